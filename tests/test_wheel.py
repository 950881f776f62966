"""A built wheel, installed into a fresh venv, runs the shipped scenarios by name.

How, offline and in seconds rather than minutes:

- The wheel is built from a copy of ``src/``, ``pyproject.toml`` and ``README.md`` (the
  checkout stays clean) with ``pip wheel --no-deps --no-build-isolation``: setuptools
  and wheel come from the test venv (the ``test`` extra installs them), so nothing is
  downloaded.
- The fresh venv is made ``--without-pip``; the test venv's pip installs the wheel into
  it (``pip --python``) with ``--no-deps --no-index``. Its dependencies come from the
  test venv's site-packages through one ``.pth`` line. A ``.pth`` line only adds a
  folder to ``sys.path``: the ``.pth`` files inside that folder (among them the editable
  install's pointer to this checkout's ``src/``) are not read, so the only
  ``serviceprofit`` the fresh venv can import is the wheel's. The test checks that.
- Every command runs from an empty temporary folder, where no ``scenarios/`` exists.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--set", "population.customers=200", "--set", "population.staff=3"]

pytestmark = pytest.mark.slow


def _run(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return done


def _ok(done: subprocess.CompletedProcess[str], *codes: int) -> str:
    assert done.returncode in (codes or (0,)), f"{done.args}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fresh venv's bin/ folder, with the wheel installed."""
    pytest.importorskip("setuptools", reason="the test extra installs setuptools and wheel")
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    dist = base / "dist"
    pip = [sys.executable, "-m", "pip"]
    build = [*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist), "."]
    _ok(_run(build, source))
    (wheel,) = dist.glob("serviceprofit-*.whl")
    venv = base / "venv"
    _ok(_run([sys.executable, "-m", "venv", "--without-pip", str(venv)], base))
    python = venv / "bin" / "python"
    purelib = _ok(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], base)
    )
    (Path(purelib.strip()) / "deps-from-test-venv.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n"
    )
    _ok(
        _run(
            [*pip, "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)],
            base,
        )
    )
    return venv / "bin"


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """An empty folder outside the source tree: no scenarios/ to fall back on."""
    return tmp_path


def test_the_wheel_is_what_runs(installed: Path, elsewhere: Path) -> None:
    """The fresh venv imports the installed wheel, not this checkout, and carries the data."""
    code = (
        "import serviceprofit, serviceprofit.model.shipped as s; print(serviceprofit.__file__);"
        " print(s.shipped_names('scenarios')); print(s.shipped_names('experiments'))"
    )
    out = _ok(_run([str(installed / "python"), "-c", code], elsewhere)).splitlines()
    assert str(installed.parent) in out[0] and str(ROOT) not in out[0]
    assert "baseline" in out[1] and "merged" in out[1] and "grid_strategy" in out[2]


def test_run_baseline_by_name(installed: Path, elsewhere: Path) -> None:
    """`serviceprofit run baseline` from a folder with no scenarios in it."""
    args = [str(installed / "serviceprofit"), "run", "baseline", *SMALL, "--weeks", "4"]
    out = _ok(_run([*args, "--out", "r"], elsewhere))
    assert out.startswith("baseline: 4 weeks")
    summary = json.loads((elsewhere / "r" / "summary.json").read_text())
    assert summary["provenance"]["git"] is None  # an installed copy claims no commit
    assert summary["provenance"]["scenarios"]["baseline"].startswith("name: baseline")


def test_compare_and_rerun_by_name(installed: Path, elsewhere: Path) -> None:
    """`compare customer_value cost_minimised`, then `rerun` of one of its rows."""
    cli = str(installed / "serviceprofit")
    args = [cli, "compare", "customer_value", "cost_minimised", "--replicates", "2"]
    args += ["--backend", "mesa"]
    _ok(_run([*args, "--workers", "1", *SMALL, "--set", "weeks=4", "--out", "c"], elsewhere))
    assert (elsewhere / "c" / "report.html").is_file()
    assert "identical" in _ok(_run([cli, "rerun", "c", "2"], elsewhere))


def test_sweep_by_name_is_found(installed: Path, elsewhere: Path) -> None:
    """`sweep grid_strategy` would find the shipped experiment and, through its relative
    `scenario:`, the shipped base scenario (loaded, not run: it is 60 runs)."""
    code = (
        "from serviceprofit.sweeps.experiment import load_experiment;"
        " e = load_experiment('grid_strategy'); print(e.name, e.base.name)"
    )
    out = _ok(_run([str(installed / "python"), "-c", code], elsewhere))
    assert out.split() == ["grid_strategy", "baseline"]


def test_claims_with_the_shipped_scenarios(installed: Path, elsewhere: Path) -> None:
    """`claims` finds its scenarios in the package (exit 1 is a claim failing at this
    tiny scale and one seed, not an error)."""
    args = [str(installed / "serviceprofit"), "claims", "--seeds", "1", "--scale", "0.05"]
    out = _ok(_run([*args, "--workers", "1"], elsewhere), 0, 1)
    assert out.count("Claim ") == 5


def test_bench_in_its_smallest_form(installed: Path, elsewhere: Path) -> None:
    """`bench` (default scenario: the shipped baseline) at the smallest sizes."""
    args = [str(installed / "serviceprofit"), "bench", "--quick", "--no-compile"]
    sizes = ["--sizes", "1000", "--same-size", "300x2", "--weeks", "2"]
    scaling = ["--scaling-size", "1000", "--scaling-weeks", "2"]
    out = _ok(_run([*args, *sizes, *scaling], elsewhere))
    assert "benchmark of baseline" in out


def test_demo_starts_from_the_shipped_pair(installed: Path, elsewhere: Path) -> None:
    """The demo's app imports, and with no files given its two firms are the shipped
    customer_value and cost_minimised scenarios (not the schema-default fallback)."""
    code = (
        "import serviceprofit.demo.app\n"
        "from serviceprofit import load_scenario\n"
        "from serviceprofit.demo.server import DemoConfig, firm_scenarios\n"
        "firms = [s for _, s in firm_scenarios(DemoConfig.from_env())]\n"
        "assert firms == [load_scenario('customer_value'), load_scenario('cost_minimised')]\n"
        "print('ok')\n"
    )
    assert _ok(_run([str(installed / "python"), "-c", code], elsewhere)).strip() == "ok"
