"""Solara's front-end files, fetched from the npm registry into Solara's CDN cache.

Solara's server does not ship its browser files: on a page's first request it fetches
them from a public CDN (jsdelivr) and keeps them in ``<venv>/share/solara/cdn/``. A
classroom or CI machine that reaches only the package registries cannot reach that CDN,
and the page then loads without its scripts and styles. The CDN serves npm packages,
so the same files come from the npm registry with npm's own client (``npm pack``),
unpacked into the cache as ``<package>@<version>/``, the layout the server reads.

Which packages, at which versions, is read from Solara's own page template and widget
files, so an upgrade of Solara asks for what the new version requests. Run as
``python -m serviceprofit.demo.assets`` (the Makefile's install step does); it is
idempotent and returns at once when every package is present.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["AssetsError", "NpmPackage", "cache_dir", "ensure_assets", "missing", "requested"]

log = logging.getLogger(__name__)

# ``{{cdn}}/requirejs@2.3.6/require.js`` in the template, ``${this.getCdn()}/vega@5/...``
# in the widgets' Vue files: a (possibly scoped) package name, "@", a version or range.
_SPEC = re.compile(r"(?:\{\{\s*cdn\s*\}\}|getCdn\(\)\})/((?:@[\w.-]+/)?[\w.-]+)@([\w.^~+-]+)/")
# Only widgets the demo draws with are scanned; others would fetch unused packages.
_WIDGETS = ("vegalite.vue",)


class AssetsError(RuntimeError):
    """The front-end files are missing and cannot be fetched (no npm, no registry)."""


@dataclass(frozen=True, order=True)
class NpmPackage:
    name: str
    version: str

    @property
    def spec(self) -> str:
        """The name Solara's server asks the CDN for, and the cache folder's name."""
        return f"{self.name}@{self.version}"


def cache_dir() -> Path:
    """Where this Python's Solara server looks for CDN files (inside the venv)."""
    from solara.server import settings

    return Path(settings.assets.proxy_cache_dir)


def requested() -> list[NpmPackage]:
    """The npm packages this Solara's page and the demo's widgets load from the CDN."""
    import ipyvue
    import solara
    from solara.server import settings

    root = Path(solara.__file__).parent
    texts = [(root / "server/templates/solara.html.j2").read_text()]
    texts += [(root / "widgets/vue" / name).read_text() for name in _WIDGETS]
    found = {NpmPackage(n, v) for text in texts for n, v in _SPEC.findall(text)}
    if settings.assets.fontawesome_enabled:
        path = "{{cdn}}" + settings.assets.fontawesome_path
        found |= {NpmPackage(n, v) for n, v in _SPEC.findall(path)}
    # The template names the app for Vue 2 and for Vue 3; the server sends one of them.
    unused = "@widgetti/solara-vuetify-app"
    if not ipyvue.__version__.startswith("3"):
        unused = "@widgetti/solara-vuetify3-app"
    packages = sorted(p for p in found if p.name != unused)
    if not packages:
        raise AssetsError(f"found no CDN packages in Solara's files under {root}")
    return packages


def missing(packages: list[NpmPackage], cache: Path) -> list[NpmPackage]:
    """Packages not yet unpacked in the cache (a complete unpack has its package.json)."""
    return [p for p in packages if not (cache / p.spec / "package.json").is_file()]


def ensure_assets(cache: Path | None = None, npm: str = "npm") -> list[NpmPackage]:
    """Fetch and unpack every missing package; return the ones fetched (none if present).

    Each package is unpacked into a temporary folder beside its final place and renamed
    into place, so an interrupted run leaves no half-written package behind.
    """
    cache = cache if cache is not None else cache_dir()
    todo = missing(requested(), cache)
    if not todo:
        return []
    if shutil.which(npm) is None:
        names = " ".join(p.spec for p in todo)
        raise AssetsError(
            f"Solara's front-end files are missing ({names}) and npm is not on PATH; "
            "install Node.js and npm (Debian: apt-get install -y npm) and run "
            "`python -m serviceprofit.demo.assets` again"
        )
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="solara-assets-") as tmp:
        log.info("fetching %s from the npm registry", ", ".join(p.spec for p in todo))
        tarballs = _npm_pack([p.spec for p in todo], Path(tmp), npm)
        for package, tarball in zip(todo, tarballs, strict=True):
            _unpack(tarball, cache / package.spec)
            log.info("unpacked %s into %s", package.spec, cache / package.spec)
    return todo


def _npm_pack(specs: list[str], into: Path, npm: str) -> list[Path]:
    import json

    done = subprocess.run(
        [npm, "pack", "--json", "--pack-destination", str(into), *specs],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise AssetsError(f"npm pack {' '.join(specs)} failed: {last}")
    return [into / entry["filename"] for entry in json.loads(done.stdout)]


def _unpack(tarball: Path, target: Path) -> None:
    """Unpack an npm tarball (files under ``package/``) as ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        with tarfile.open(tarball) as archive:
            archive.extractall(staging, filter="data")
        top = staging / "package"
        if not top.is_dir():  # a few old packages use another top folder
            top = next(p for p in staging.iterdir() if p.is_dir())
        if target.exists():
            shutil.rmtree(target)
        top.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main() -> int:
    """Entry point for the Makefile: quiet when everything is present."""
    logging.basicConfig(level=logging.INFO, format="solara assets: %(message)s")
    try:
        ensure_assets()
    except AssetsError as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
