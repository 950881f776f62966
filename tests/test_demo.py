"""The classroom demo without a browser: fair pairs, levers in mid-run, what is drawn,
the offline front-end files, and the command's answers to bad input."""

from __future__ import annotations

import io
import json
import math
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from serviceprofit import ScenarioError, load_scenario
from serviceprofit.backends.mesa.model import ServiceProfitModel
from serviceprofit.cli import main
from serviceprofit.demo import assets
from serviceprofit.demo.chain import LINKS, chain_svg, chain_values
from serviceprofit.demo.charts import (
    CHARTS,
    MEASURES,
    chart_spec,
    population_spec,
    waffle_unit,
    x_domain,
    y_domain,
)
from serviceprofit.demo.classroom import Classroom, FirmRun, PopulationCounts
from serviceprofit.demo.controls import controls, read
from serviceprofit.demo.server import DemoConfig, DemoServer, ServerError, firm_scenarios

from .conftest import SCENARIOS, SMALL

MARKETING = "strategy.marketing.spend_per_week"
EMPOWERMENT = "strategy.process.empowerment"


@pytest.fixture
def pair(small):
    """Two identical small firms from seed 3."""
    return Classroom([("A", small), ("B", small)], seed=3)


def test_same_scenario_and_seed_give_the_same_firm(pair):
    """Fairness: two firms with one strategy and one seed run identically."""
    assert pair.step(4) == 4
    a, b = pair.histories().values()
    assert a == b
    assert len(a) == 4


def test_a_lever_changed_mid_run_is_an_event_and_replays_exactly(pair):
    """A change at week w keeps weeks before w and equals a fresh run of the scenario shown."""
    pair.step(5)
    before = pair.histories()["B"]
    pair.change(1, MARKETING, 6000)
    firm = pair.firms[1]
    assert firm.week == 5
    assert firm.history == before
    assert [(e.week, e.set) for e in firm.scenario().events] == [(5, {MARKETING: 6000.0})]
    pair.step(4)
    fresh = ServiceProfitModel(firm.scenario(), seed=3)
    rows = []
    for _ in range(9):
        fresh.step()
        rows.append(dict(fresh.row))
    assert firm.history == rows
    assert firm.history != pair.firms[0].history  # the extra marketing made a difference
    assert pair.settings(1)[MARKETING] == 6000.0


def test_a_later_preset_choice_resets_that_presets_levers(pair):
    """Levers of a preset are recorded with the whole preset, so later choices win."""
    pair.step(2)
    pair.change(1, EMPOWERMENT, 0.3)
    pair.step(1)
    pair.change(1, "strategy.process", "cost_minimised")
    assert pair.settings(1)[EMPOWERMENT] == 0.2  # cost_minimised's own value
    pair.step(1)
    pair.change(1, "strategy.process", "customer_value")
    assert pair.settings(1)[EMPOWERMENT] == 0.8  # not the 0.3 set at week 2
    assert pair.week == 4


def test_reset_keeps_the_levers_and_starts_again(pair):
    """Reset: week 0 with every lever as it stands, no events left over."""
    pair.step(3)
    pair.change(0, MARKETING, 2500)
    pair.reset(seed=7)
    firm = pair.firms[0]
    assert (pair.week, firm.changes, firm.seed) == (0, {}, 7)
    assert pair.settings(0)[MARKETING] == 2500.0
    assert firm.scenario().events == []


def test_a_bad_value_is_refused_and_the_firm_is_unchanged(pair):
    """The schema decides what a lever may hold; the firm stays as it was."""
    pair.step(2)
    before = (pair.firms[0].history, pair.firms[0].changes)
    with pytest.raises(ScenarioError, match="empowerment"):
        pair.change(0, EMPOWERMENT, 2.0)
    assert (pair.firms[0].history, pair.firms[0].changes) == before


def test_queued_edits_apply_once_and_only_the_latest(pair):
    """A dragged slider: only the last of several edits is applied, in one replay."""
    pair.step(2)
    first = pair.request(0, MARKETING, 100)
    last = pair.request(0, MARKETING, 3000)
    assert pair.settings(0)[MARKETING] == 3000  # shown while queued
    assert pair.apply_pending(first) is False  # a newer edit came in
    assert pair.apply_pending(last) is True
    assert pair.firms[0].changes == {2: {MARKETING: 3000}}
    assert pair.apply_pending(last) is False  # nothing left


def test_the_pair_stops_at_the_horizon(small):
    """Steps never run past the shortest scenario."""
    room = Classroom([("A", small), ("B", small.with_overrides({"weeks": 3}))])
    assert room.step(10) == 3
    assert room.finished and room.step(1) == 0


def test_population_counts_cover_every_customer(pair):
    """Promoters + passives + detractors are the active customers; churned add up."""
    pair.step(6)
    firm = pair.firms[0]
    counts = firm.population()
    assert counts.active == firm.history[-1]["customers_active"]
    assert counts.churned == sum(r["customers_churned"] for r in firm.history)


def test_controls_use_the_scenario_vocabulary(small):
    """Every control's key reads from a scenario, and choices come from the schema."""
    by_key = {c.key: c for c in controls()}
    assert set(by_key["strategy.process"].choices) == {"customer_value", "cost_minimised"}
    assert set(by_key["owner.policy"].choices) == {"fixed", "profit_first", "balanced"}
    for control in controls():
        value = read(small, control.key)
        if control.choices:
            assert value in control.choices
        else:
            assert control.low <= value <= control.high, control.key


def test_every_chart_draws_both_firms_over_the_horizon(pair):
    """One line per firm on each panel, x fixed to the run's length."""
    pair.step(10)
    histories = pair.histories()
    for chart in CHARTS:
        spec = chart_spec(chart, histories, pair.weeks)
        assert len(spec["hconcat"]) == len(chart.measures)
        for panel in spec["hconcat"]:
            firms = {row["firm"] for row in panel["data"]["values"]}
            assert firms == {"A", "B"}, (chart.key, panel["title"])
            assert panel["encoding"]["x"]["scale"]["domain"] == [0, SMALL["weeks"]]
        json.dumps(spec)  # sent to the browser as JSON


def test_charts_at_week_zero_are_empty_but_drawable():
    """Before the first step there is nothing to plot, but each panel has a y range."""
    for chart in CHARTS:
        for panel in chart_spec(chart, {"A": [], "B": []}, 156)["hconcat"]:
            assert panel["data"]["values"] == []
            low, high = panel["encoding"]["y"]["scale"]["domain"]
            assert low < high


def _overflows(spec: dict) -> list[str]:
    """Data a panel's axes leave out: every value of a field whose scale fixes a domain
    must lie inside that domain (Vega-Lite cuts off what does not)."""
    found = []
    for panel in spec["hconcat"]:
        for channel, encoding in panel["encoding"].items():
            if not isinstance(encoding, dict) or encoding.get("type") != "quantitative":
                continue  # a tooltip, the firms' colours
            domain = encoding.get("scale", {}).get("domain")
            if domain is None:
                continue
            low, high = domain
            for row in panel["data"]["values"]:
                if not low <= row[encoding["field"]] <= high:
                    found.append(f"{panel['title']['text']} {channel}: {row} outside {domain}")
    return found


def test_no_chart_cuts_off_a_run(pair):
    """Every axis holds every point of a real run; 0-100 scores keep their 0-100 axis."""
    pair.change(1, "strategy.process", "cost_minimised")
    pair.step(SMALL["weeks"])
    histories = pair.histories()
    for chart in CHARTS:
        spec = chart_spec(chart, histories, pair.weeks)
        assert _overflows(spec) == [], chart.key
        for panel in spec["hconcat"]:
            if "satisfaction (0-100)" in panel["title"]["text"]:
                assert panel["encoding"]["y"]["scale"]["domain"] == [0.0, 100.0]


WEEKLY = [
    "staff_satisfaction",
    "staff_quits",
    "staff_active",
    "fcr",
    "handoffs_per_contact",
    "customer_satisfaction",
    "nps",
    "churn_rate",
    "customers_acquired",
    "customers_active",
    "revenue",
    "cost_total",
    "cumulative_profit",
]


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(
        st.lists(st.floats(-1e9, 1e9), min_size=len(WEEKLY), max_size=len(WEEKLY)),
        min_size=1,
        max_size=30,
    ),
    weeks=st.integers(1, 40),
)
def test_no_chart_cuts_off_any_data(values, weeks):
    """Whatever the numbers (scores past 100, losses, a flat line, weeks past the
    horizon), no axis is narrower than the data it shows."""
    history = [dict(zip(WEEKLY, row, strict=True)) for row in values]
    flat = [dict.fromkeys(WEEKLY, 0.0)] * 3
    for chart in CHARTS:
        spec = chart_spec(chart, {"A": history, "B": flat}, weeks)
        assert _overflows(spec) == [], chart.key


def test_axis_ranges_fit_the_data_with_a_margin():
    """Natural range while the data fit; the data's range and a margin when they do not."""
    score = MEASURES["customer_satisfaction"]
    assert y_domain(score, [40.0, 80.0]) == [0.0, 100.0]
    low, high = y_domain(score, [40.0, 130.0])
    assert low < 40.0 and high > 130.0
    profit = MEASURES["cumulative_profit"]
    low, high = y_domain(profit, [-5000.0, 20000.0, math.nan])
    span = 25000.0
    assert -5000.0 - 0.1 * span < low < -5000.0 and 20000.0 < high < 20000.0 + 0.1 * span
    assert y_domain(profit, [0.0, 0.0]) == [0.0, 1.0]  # a flat line gets a band
    assert x_domain(26, [3, 10]) == [0, 26] and x_domain(26, [30]) == [0, 30]


def test_waffle_has_a_square_per_unit_of_customers():
    """Squares: customers now by class, then those lost, at one unit each."""
    counts = {"A": PopulationCounts(100, 60, 40, 20), "B": PopulationCounts(0, 0, 200, 80)}
    spec = population_spec(counts, unit=20)
    kinds = [(v["firm"], v["kind"]) for v in spec["data"]["values"]]
    assert kinds.count(("A", "fans (promoters)")) == 5
    assert kinds.count(("A", "left since week 0")) == 1
    assert kinds.count(("B", "critics (detractors)")) == 10
    assert len(kinds) == 11 + 14
    assert waffle_unit(5000) == 20


def test_chain_shows_a_dash_before_week_one_and_values_after(pair):
    """The diagram's boxes: one value per firm per link, escaped into SVG."""
    empty = chain_values({"A": [], "B": []})
    assert empty == [["–", "–"]] * len(LINKS)
    pair.step(3)
    values = chain_values(pair.histories())
    assert all(v != "–" for row in values for v in row)
    svg = chain_svg({"A<b>": pair.histories()["A"]})
    assert svg.startswith("<svg") and "A&lt;b&gt;" in svg and "<b>" not in svg


def test_default_pair_is_customer_value_against_cost_minimised():
    """No files: the sharpest contrast of the shipped scenarios; one file: both firms."""
    config = DemoConfig(library=(str(SCENARIOS),))
    (_, a), (_, b) = firm_scenarios(config)
    assert (a.name, b.name) == ("customer_value", "cost_minimised")
    one = DemoConfig(firms=(str(SCENARIOS / "merged.yaml"),))
    assert [s.name for _, s in firm_scenarios(one)] == ["merged", "merged"]
    assert "baseline" in config.presets()


def test_server_binds_first_and_reports_a_busy_port():
    """Port 0 picks a free port; a port in use is refused before any server starts."""
    server = DemoServer(DemoConfig(library=(str(SCENARIOS),)), "127.0.0.1", 0)
    try:
        assert server.port > 0 and server.url == f"http://127.0.0.1:{server.port}/"
        with pytest.raises(ServerError, match="--port 0"):
            DemoServer(DemoConfig(library=(str(SCENARIOS),)), "127.0.0.1", server.port)
    finally:
        server.sock.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["a.yaml", "b.yaml", "c.yaml"], "at most two scenarios"),
        (["no_such.yaml"], "no such file"),
        (["--port", "70000"], "must be 0..65535"),
        (["--host", "no.such.host.invalid"], "cannot resolve"),
    ],
)
def test_demo_bad_input_is_one_line_and_exit_2(args, message, capsys):
    """Bad input: exit 2, one line naming the problem, no server started."""
    assert main(["demo", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_demo_refuses_a_port_in_use(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert main(["demo", "--port", str(busy.getsockname()[1])]) == 2
    assert "cannot listen" in capsys.readouterr().err


def test_importing_the_package_and_cli_loads_no_solara():
    """The page module is Solara's alone: the library and the CLI stay cheap to import."""
    code = (
        "import sys, serviceprofit, serviceprofit.cli, serviceprofit.demo.classroom, "
        "serviceprofit.demo.charts; serviceprofit.cli.build_parser(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('solara', 'uvicorn') "
        "or m == 'serviceprofit.demo.app'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_requested_assets_are_what_this_solara_asks_for():
    """Read from Solara's files: the Vue 3 app, requirejs, Font Awesome and Vega."""
    specs = {p.spec for p in assets.requested()}
    assert {"requirejs@2.3.6", "font-awesome@4.5.0", "vega@5", "vega-lite@5"} <= specs
    assert any(s.startswith("@widgetti/solara-vuetify") for s in specs)


def _fake_npm(tmp_path: Path) -> Path:
    """An `npm pack` stand-in: writes a tarball per spec and reports it as npm does."""
    script = tmp_path / "npm"
    script.write_text(
        textwrap.dedent(
            f"""\
            #!{sys.executable}
            import io, json, sys, tarfile
            from pathlib import Path
            args = sys.argv[1:]
            into = Path(args[args.index("--pack-destination") + 1])
            specs = [a for a in args[args.index("--pack-destination") + 2:]]
            out = []
            for spec in specs:
                name = spec.replace("@", "").replace("/", "-") + ".tgz"
                with tarfile.open(into / name, "w:gz") as tar:
                    data = json.dumps({{"name": spec}}).encode()
                    info = tarfile.TarInfo("package/package.json")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
                out.append({{"filename": name}})
            print(json.dumps(out))
            """
        )
    )
    script.chmod(0o755)
    return script


def test_assets_are_unpacked_as_package_at_version_and_fetched_once(tmp_path):
    """Idempotent: a second call finds everything and does not call npm at all."""
    cache = tmp_path / "cdn"
    npm = _fake_npm(tmp_path)
    fetched = assets.ensure_assets(cache, npm=str(npm))
    assert fetched == assets.requested()
    for package in fetched:
        manifest = json.loads((cache / package.spec / "package.json").read_text())
        assert manifest["name"] == package.spec
    npm.unlink()
    assert assets.ensure_assets(cache, npm=str(npm)) == []


def test_missing_assets_without_npm_say_how_to_get_them(tmp_path):
    with pytest.raises(assets.AssetsError, match="apt-get install -y npm"):
        assets.ensure_assets(tmp_path / "cdn", npm=str(tmp_path / "no-npm"))


def test_a_firm_run_reads_its_settings_from_its_scenario():
    """The levers shown are the scenario's, presets resolved."""
    firm = FirmRun("B", load_scenario(SCENARIOS / "cost_minimised.yaml", SMALL))
    settings = firm.settings()
    assert settings["strategy.process"] == "cost_minimised"
    assert settings[EMPOWERMENT] == 0.2


def test_an_edit_still_queued_applies_from_the_week_it_was_made(pair):
    """Pressing Step before a slider settles: the edit counts from its own week."""
    pair.request(1, "strategy.organisation", "merged")
    pair.step(2)
    assert pair.firms[1].changes == {}  # made at week 0: part of the base scenario
    assert pair.firms[1].base.strategy.organisation.preset == "merged"
    assert pair.pending == {}


def test_loading_a_shipped_scenario_restarts_both_firms(pair):
    """A preset for one firm: both back to week 0, so the comparison starts fair."""
    pair.step(3)
    pair.change(0, MARKETING, 2000)
    merged = load_scenario(SCENARIOS / "merged.yaml", SMALL)
    pair.load(1, merged)
    assert pair.week == 0
    assert pair.firms[1].base.name == "merged" and pair.firms[1].changes == {}
    assert pair.settings(0)[MARKETING] == 2000.0  # the other firm keeps its levers


def test_the_page_gets_its_configuration_through_the_environment(monkeypatch):
    """The server hands the page its firms and presets in one environment variable."""
    from serviceprofit.demo.server import CONFIG_ENV

    config = DemoConfig(firms=(str(SCENARIOS / "silo.yaml"),), library=(str(SCENARIOS),), seed=4)
    monkeypatch.setenv(CONFIG_ENV, config.to_env())
    assert DemoConfig.from_env() == config


def test_a_play_loop_cannot_step_a_run_that_was_just_reset(pair):
    """A step carrying the epoch from before a reset runs nothing."""
    epoch = pair.epoch
    pair.step(2, epoch)
    pair.reset()
    assert pair.step(2, epoch) == 0 and pair.week == 0
    assert pair.step(2, pair.epoch) == 2


# The server as a room of clients meets it: read-only front-end files, no diagnostics,
# no download from the internet, and a warning when the network can reach the page.

# Run before the demo's own code: logs every attempt to reach another machine or to
# start a program, through Python's audit hooks (requests, urllib and sockets all raise
# them), so a fetch from the internet is seen even where the network would refuse it.
OUTBOUND_GUARD = """
import sys
log = open(sys.argv[1], "a", buffering=1)
LOCAL = {"127.0.0.1", "localhost", "::1", "", None}

def hook(event, args):
    if event == "socket.getaddrinfo" and args[0] not in LOCAL:
        log.write(f"{event} {args[0]}\\n")
    elif event == "socket.connect" and isinstance(args[1], tuple) and args[1][0] not in LOCAL:
        log.write(f"{event} {args[1]}\\n")
    elif event in ("urllib.Request", "subprocess.Popen", "os.exec", "os.posix_spawn"):
        log.write(f"{event} {args[:2]}\\n")

sys.addaudithook(hook)
from serviceprofit.cli import main
sys.exit(main(sys.argv[2:]))
"""
SECRET = "not for the browser"


def _snapshot(root: Path) -> dict[str, tuple[int, int, bool]]:
    """Every file and folder under root: size, modification time, whether a folder."""
    found = {".": (0, root.stat().st_mtime_ns, True)}
    for path in root.rglob("*"):
        stat = path.lstat()
        found[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns, path.is_dir())
    return found


def _fake_cache(root: Path) -> Path:
    """A CDN cache with every package the page asks for (so nothing is fetched at
    start), two real-looking files, and a secret beside it for traversal to aim at."""
    cache = root / "share" / "solara" / "cdn"
    for package in assets.requested():
        (cache / package.spec).mkdir(parents=True)
        (cache / package.spec / "package.json").write_text(json.dumps({"name": package.name}))
    (cache / "vega@5" / "build").mkdir()
    (cache / "vega@5" / "build" / "vega.min.js").write_text("var vega = 'from the cache';")
    (root / "share" / "secret.txt").write_text(SECRET)
    (root / "secret.txt").write_text(SECRET)
    return cache


def _request(port: int, method: str, path: str) -> tuple[int, bytes]:
    """One request with the path sent exactly as written (no client-side clean-up)."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def guarded_demo(tmp_path_factory):
    """`serviceprofit demo --port 0` on a copy of the cache, with the outbound guard."""
    import os
    import time

    root = tmp_path_factory.mktemp("venv")
    cache = _fake_cache(root)
    log = tmp_path_factory.mktemp("guard") / "outbound.log"
    log.touch()
    env = {**os.environ, "SOLARA_ASSETS_PROXY_CACHE_DIR": str(cache)}
    env.pop("SOLARA_ASSETS_PROXY", None)  # Solara's default: the proxy on, unless we turn it off
    process = subprocess.Popen(
        [sys.executable, "-c", OUTBOUND_GUARD, str(log), "demo", "--port", "0"],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = process.stdout.readline()
        assert first.startswith("Classroom demo at http://127.0.0.1:"), first
        port = int(first.split()[3].rstrip("/").rsplit(":", 1)[1])
        deadline = time.monotonic() + 90
        while True:
            try:
                if _request(port, "GET", "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail(f"the demo did not start: {process.stderr.read()}")
            time.sleep(0.3)
        yield port, root, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        for stream in (process.stdout, process.stderr):
            stream.close()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/_solara/cdn/vega@5"),  # a folder: Solara's proxy deleted it
        ("GET", "/_solara/cdn/vega@5/build"),
        ("GET", "/_solara/cdn/vega@5/build/"),
        ("GET", "/_solara/cdn/vega@5/"),
        ("GET", "/_solara/cdn/lodash@4.17.21/lodash.min.js"),  # not cached: the proxy fetched it
        ("GET", "/_solara/cdn/lodash"),  # one part: the proxy fetched and stored __main.js
        ("GET", "/_solara/cdn/..%2fsecret.txt"),
        ("GET", "/_solara/cdn/..%2f..%2f..%2fsecret.txt"),
        ("GET", "/_solara/cdn/../../../secret.txt"),
        ("GET", "/_solara/cdn/%2e%2e/%2e%2e/%2e%2e/secret.txt"),
        ("GET", "/_solara/cdn/vega@5/..%2f..%2f..%2f..%2fsecret.txt"),
        ("GET", "/_solara/cdn/%2fetc%2fpasswd"),
        ("DELETE", "/_solara/cdn/vega@5"),
        ("PUT", "/_solara/cdn/vega@5/build/vega.min.js"),
        ("POST", "/_solara/cdn/vega@5/build/x.js"),
    ],
)
def test_the_front_end_files_cannot_be_changed_or_fetched_by_a_client(guarded_demo, method, path):
    """No request under /_solara/cdn deletes, writes or fetches: the cache stays as it was,
    nothing outside it is served, and the server reaches no other machine."""
    port, root, log = guarded_demo
    before = _snapshot(root)
    status, body = _request(port, method, path)
    assert 400 <= status < 500, (status, body[:200])
    assert SECRET.encode() not in body
    assert _snapshot(root) == before
    assert log.read_text() == ""


def test_the_page_loads_its_files_from_the_cache_and_keeps_diagnostics_to_itself(guarded_demo):
    """A cached file is served as it is; the page points at the cache, not at a public CDN;
    /resourcez (the host's CPUs and memory with ?verbose) is not served."""
    port, root, log = guarded_demo
    before = _snapshot(root)
    status, body = _request(port, "GET", "/_solara/cdn/vega@5/build/vega.min.js")
    assert (status, body) == (200, b"var vega = 'from the cache';")
    status, page = _request(port, "GET", "/")
    assert status == 200
    assert b'src="/_solara/cdn/requirejs@2.3.6/require.js"' in page
    assert b"jsdelivr" not in page
    for path in ("/resourcez", "/resourcez?verbose", "/resourcez/?verbose=1"):
        status, body = _request(port, "GET", path)
        assert status in (404, 307), (path, status)
        assert b"memory" not in body and b"cpu" not in body
    assert _snapshot(root) == before
    assert log.read_text() == ""


def _asgi(app, path: str, method: str = "GET") -> int:
    """The status an ASGI app answers a request with (no server, no network)."""
    import asyncio

    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1),
    }
    asyncio.run(app(scope, receive, send))
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


def test_read_only_assets_answer_their_paths_and_pass_the_rest_on(tmp_path):
    """Paths under /_solara/cdn and /resourcez never reach the app behind; others do;
    without a cache, the files are simply missing."""
    from serviceprofit.demo.server import ReadOnlyAssets

    reached: list[str] = []

    async def solara(scope, receive, send):
        reached.append(scope["path"])
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    cache = _fake_cache(tmp_path)
    app = ReadOnlyAssets(solara, cache)
    assert _asgi(app, "/_solara/cdn/vega@5/build/vega.min.js") == 200
    assert _asgi(app, "/_solara/cdn/vega@5") == 404
    assert _asgi(app, "/_solara/cdn/vega@5", "DELETE") == 405
    assert _asgi(app, "/resourcez") == 404
    assert reached == []
    assert _asgi(app, "/") == 299 and _asgi(app, "/readyz") == 299
    assert reached == ["/", "/readyz"]
    missing = ReadOnlyAssets(solara, tmp_path / "no-cache")
    assert _asgi(missing, "/_solara/cdn/vega@5/build/vega.min.js") == 404
    assert not (tmp_path / "no-cache").exists()


class _Bound:
    """A socket stand-in bound where a test says."""

    def __init__(self, address: str, port: int) -> None:
        self.address = (address, port)

    def getsockname(self) -> tuple[str, int]:
        return self.address


def test_a_page_reachable_from_the_network_comes_with_a_warning():
    """Loopback: no warning; any other address names who can reach the page."""
    from serviceprofit.demo.server import exposure_warning

    assert exposure_warning(_Bound("127.0.0.1", 8765), "127.0.0.1") is None
    assert exposure_warning(_Bound("127.0.0.2", 8765), "localhost") is None
    assert exposure_warning(_Bound("::1", 8765), "::1") is None
    every = exposure_warning(_Bound("::", 8765), "::")
    assert every is not None and "(every network interface)" in every
    one = exposure_warning(_Bound("192.0.2.10", 8800), "classroom.example")
    assert one is not None
    assert one.startswith("serving on classroom.example:8800: anyone who can reach this machine")
    assert "address 192.0.2.10" in one and "port 8800" in one


@pytest.mark.parametrize(("host", "warned"), [("0.0.0.0", True), ("127.0.0.1", False)])
def test_demo_on_every_interface_prints_who_can_reach_it(host, warned, monkeypatch, capsys):
    """`--host 0.0.0.0`: one warning line on stderr naming the port and every interface;
    loopback (the default): none."""
    from serviceprofit.demo import server

    monkeypatch.setattr(assets, "ensure_assets", lambda: [])
    monkeypatch.setattr(server.DemoServer, "serve", lambda self: self.sock.close())
    assert main(["demo", "--host", host, "--port", "0"]) == 0
    out, err = capsys.readouterr()
    port = int(out.split()[3].rstrip("/").rsplit(":", 1)[1])
    if warned:
        assert err == (
            f"warning: serving on 0.0.0.0:{port}: anyone who can reach this machine on port "
            f"{port} (every network interface) can open and drive the demo; there is no login, "
            "so use it only on a network you trust\n"
        )
    else:
        assert err == ""


# What a class takes home: the charts as an image, both firms' weeks as a table.


def test_the_weekly_table_holds_both_firms_every_measure_and_its_provenance(pair):
    """One row per firm and week with the model's weekly columns; the header names the
    version, seed and backend, and each firm's scenario with the class's changes as events."""
    import csv

    from serviceprofit import __version__
    from serviceprofit.demo.export import read_provenance, weekly_csv

    pair.step(4)
    pair.change(1, MARKETING, 5000)
    pair.step(3)
    text = weekly_csv(pair)
    rows = list(csv.DictReader(io.StringIO("\n".join(text.splitlines()[_header_lines(text) :]))))
    histories = pair.histories()
    assert list(rows[0]) == ["firm", *histories["A"][0]]
    assert [(r["firm"], int(r["week"])) for r in rows] == [
        (firm, week) for firm in ("A", "B") for week in range(1, 8)
    ]
    for row, expected in zip(rows, histories["A"] + histories["B"], strict=True):
        assert {k: float(v) for k, v in row.items() if k != "firm"} == pytest.approx(expected)
    meta = read_provenance(text)
    assert (meta["made_with"], meta["seed"], meta["backend"], meta["week"]) == (
        f"serviceprofit {__version__}, classroom demo",
        3,
        "mesa",
        7,
    )
    assert [f["label"] for f in meta["firms"]] == ["A", "B"]
    # the shared provenance record's parts, the host left out (the file goes to clients)
    assert "git" in meta and "host" not in meta
    assert {"numba", "mesa", "solara"} <= set(meta["dependencies"])
    events = meta["firms"][1]["scenario"]["events"]
    assert [(e["week"], e["set"], e["label"]) for e in events] == [
        (4, {MARKETING: 5000.0}, "changed in class")
    ]
    assert meta["firms"][0]["scenario"]["events"] == []


def _header_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.startswith("#"))


def test_a_firm_runs_again_from_the_exported_table(pair):
    """The header's scenario and seed, given to `simulate`, give the table's weeks."""
    import pandas as pd

    from serviceprofit import simulate
    from serviceprofit.demo.export import read_provenance, weekly_csv

    pair.step(3)
    pair.change(1, EMPOWERMENT, 0.3)
    pair.step(3)
    text = weekly_csv(pair)
    table = pd.read_csv(io.StringIO(text), comment="#")
    firm = read_provenance(text)["firms"][1]
    again = simulate(load_scenario(firm["scenario"]), seed=read_provenance(text)["seed"])
    exported = table[table.firm == firm["label"]].drop(columns="firm").reset_index(drop=True)
    pd.testing.assert_frame_equal(
        exported, again.timeseries.head(6)[list(exported.columns)], check_dtype=False
    )


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_the_charts_export_as_a_valid_image(pair, fmt):
    """A PNG that decodes, or an SVG document, with the run described in its metadata;
    at week 0 too, when there is nothing to draw yet."""
    import xml.etree.ElementTree as ET

    from PIL import Image

    from serviceprofit.demo.export import charts_image

    for weeks in (0, 5):
        pair.step(weeks)
        data = charts_image(pair, fmt)
        if fmt == "png":
            image = Image.open(io.BytesIO(data))
            image.load()  # decodes every pixel: a truncated file fails here
            assert image.format == "PNG" and min(image.size) > 500
            assert "seed 3" in image.text["Description"]
            assert f"week {pair.week} of {SMALL['weeks']}" in image.text["Description"]
        else:
            root = ET.fromstring(data)
            assert root.tag == "{http://www.w3.org/2000/svg}svg"
            assert b"seed 3" in data and f"week {pair.week} of".encode() in data
    with pytest.raises(ValueError, match="png, svg"):
        charts_image(pair, "gif")


# ---------------------------------------------------------------------------
# The rivals switch: the two firms in one market


def test_rivals_share_one_market_made_of_both_firms(small):
    """The market holds both firms as they stand (changes in class as events), their
    customers at week 0 in their own proportions, and the room's horizon."""
    from serviceprofit.demo.rivals import PROSPECTS_PER_CUSTOMER, rivals_market

    bigger = small.with_overrides({"population.customers": 600})
    room = Classroom([("Firm A", small), ("Firm B", bigger)], seed=3)
    room.step(5)
    room.change(1, MARKETING, 3000.0)
    market = rivals_market(room)
    assert list(market.firms) == ["Firm_A", "Firm_B"] and market.weeks == room.weeks
    assert market.initial_customers() == {"Firm_A": 300, "Firm_B": 600}
    assert market.market.prospects.initial == round(PROSPECTS_PER_CUSTOMER * 900)
    changed = market.firms["Firm_B"].events[-1]
    assert changed.week == 5 and changed.set[MARKETING] == 3000.0


def test_rivals_run_shares_customers_and_says_who_went_where(small):
    """Run as rivals, the firms' shares add to one every week, and every customer who
    switched shows in the table as lost by one and won by the other."""
    from serviceprofit.demo.charts import rivals_spec
    from serviceprofit.demo.rivals import run_rivals, switching_rows

    cost = small.with_overrides({"strategy.process": "cost_minimised"})
    room = Classroom([("A", small), ("B", cost)], seed=3)
    result = run_rivals(room)
    a, b = (result.firms[n].timeseries for n in ("A", "B"))
    assert np.allclose(a.market_share + b.market_share, 1.0)
    table = switching_rows(result, {"A": "A", "B": "B"})
    a_to_b = int(table[(table["from"] == "A") & (table.to == "B")].people.sum())
    assert a_to_b == int(a.lost_to_rivals.sum()) == int(b.won_from_rivals.sum())
    assert set(table["from"]) <= {"A", "B", "prospects"}
    spec = rivals_spec({n: result.firms[n].timeseries.to_dict("records") for n in "AB"}, 26)
    shares = spec["hconcat"][0]["data"]["values"]
    assert {row["firm"] for row in shares} == {"A", "B"} and len(shares) == 2 * 26


def test_firms_with_different_customers_cannot_be_rivals(small):
    """Firms whose customer segments differ cannot share a market: the page is told why."""
    from serviceprofit.demo.rivals import rivals_market

    other = small.with_overrides({"segments.0.share": 0.5, "segments.1.share": 0.4})
    with pytest.raises(ScenarioError, match="segments"):
        rivals_market(Classroom([("A", small), ("B", other)], seed=3))
