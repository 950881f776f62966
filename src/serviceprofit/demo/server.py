"""Starting the classroom page: which firms, where to listen, and Solara's server.

The page (:mod:`serviceprofit.demo.app`) runs inside Solara's own server (Starlette
under uvicorn), exactly as ``solara run`` would start it, but from this Python: the
venv's Solara, its CDN cache and its packages. The socket is bound before the server
starts, so a port already in use is reported at once, as bad input, and port 0 picks
a free port whose address can be printed. What the page should show travels to it in
one environment variable, since Solara imports the page module itself.

Anyone who can open the page can send the server requests, so the server answers
only what a page needs. Solara's CDN proxy is off: as shipped, a request for a folder
under ``/_solara/cdn/`` deletes that folder from the cache, and a request for a file not
yet cached makes the server download it from the internet and write it into the venv.
The page's front-end files are served read-only from the cache instead
(:func:`solara_app`; ``python -m serviceprofit.demo.assets`` fills it), and Solara's
``/resourcez`` diagnostics (thread and session counts, and with ``?verbose`` the host's
CPUs and memory) are not served. :func:`listen`, :func:`solara_app` and
:func:`exposure_warning` hold no demo logic, so another page can be served the same way.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import threading
import warnings
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serviceprofit.demo.classroom import find_scenarios
from serviceprofit.model.scenario import Scenario, load_scenario
from serviceprofit.model.shipped import shipped_dir

__all__ = [
    "CDN_PATH",
    "CONFIG_ENV",
    "HIDDEN_PATHS",
    "STOPPING",
    "DemoConfig",
    "DemoServer",
    "ReadOnlyAssets",
    "ServerError",
    "exposure_warning",
    "firm_scenarios",
    "listen",
    "solara_app",
]

CONFIG_ENV = "SERVICEPROFIT_DEMO_CONFIG"
APP_MODULE = "serviceprofit.demo.app"
DEFAULT_PAIR = ("customer_value", "cost_minimised")
LABELS = ("Firm A", "Firm B")
# Where Solara's page template and widgets ask for their front-end files.
CDN_PATH = "/_solara/cdn"
# Solara's diagnostics, which tell any client about the server and, with ?verbose, the
# host (CPU times per core, memory): a classroom page has no use for them.
HIDDEN_PATHS: tuple[str, ...] = ("/resourcez",)
# Set when the server stops, so that a page's play loop does not keep the process alive.
STOPPING = threading.Event()

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ServerError(OSError):
    """The page cannot be served where asked (address in use, no such host)."""


@dataclass(frozen=True)
class DemoConfig:
    """What the page starts with: up to two scenario files and where presets live."""

    firms: tuple[str, ...] = ()
    library: tuple[str, ...] = ()
    seed: int = 0

    def to_env(self) -> str:
        return json.dumps({"firms": self.firms, "library": self.library, "seed": self.seed})

    @classmethod
    def from_env(cls) -> DemoConfig:
        raw = os.environ.get(CONFIG_ENV)
        if not raw:
            return cls(library=tuple(str(p) for p in default_library()))
        data = json.loads(raw)
        return cls(tuple(data["firms"]), tuple(data["library"]), int(data["seed"]))

    def presets(self) -> dict[str, Path]:
        """The shipped scenarios the page offers, by name."""
        return find_scenarios(Path(p) for p in self.library)


def default_library(scenario_files: Sequence[str | Path] = ()) -> list[Path]:
    """Where to look for scenario presets: beside the given files, ./scenarios, and the
    scenarios shipped in the package."""
    places = [Path(f).resolve().parent for f in scenario_files]
    places.append(Path.cwd() / "scenarios")
    places.append(shipped_dir("scenarios"))
    unique: list[Path] = []
    for place in places:
        if place.is_dir() and place.resolve() not in unique:
            unique.append(place.resolve())
    return unique


def firm_scenarios(config: DemoConfig) -> list[tuple[str, Scenario]]:
    """The two firms' starting scenarios.

    Two files: one each. One file: both firms start from it (change one lever and
    watch the difference). None: customer_value against cost_minimised, the sharpest
    contrast of the shipped scenarios, or the schema's defaults with the two process
    presets when the scenario files cannot be found.
    """
    if len(config.firms) == 2:
        chosen = [load_scenario(f) for f in config.firms]
    elif len(config.firms) == 1:
        chosen = [load_scenario(config.firms[0])] * 2
    else:
        found = config.presets()
        if all(name in found for name in DEFAULT_PAIR):
            chosen = [load_scenario(found[name]) for name in DEFAULT_PAIR]
        else:
            chosen = [Scenario().with_overrides({"strategy.process": n}) for n in DEFAULT_PAIR]
    return list(zip(LABELS, chosen, strict=True))


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` and listening, so that the port is held (and a
    busy one reported) before any server starts; port 0 takes any free port.

    Raises :class:`ServerError` with a message for the command line.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ServerError(f"--host {host}: cannot resolve ({exc.strerror})") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ServerError(
            f"cannot listen on {host}:{port} ({exc.strerror}); "
            "try another --port, or --port 0 for any free port"
        ) from None
    return sock


def exposure_warning(
    sock: socket.socket, host: str, what: str = "the demo", access: str = "there is no login"
) -> str | None:
    """Who besides this machine can reach a server on ``sock``; None for loopback only.

    The page has no login: whoever reaches the port can open it and run simulations
    on this machine (``access`` says what guards a page that has one). On a loopback
    address that is only this machine's users; on any other address it is everyone on
    the networks behind that address, and on an unspecified one (``0.0.0.0``, ``::``)
    everyone on every network the machine is on.
    """
    address, port = sock.getsockname()[:2]
    ip = ipaddress.ip_address(address.split("%")[0])
    if ip.is_loopback:
        return None
    reach = (
        "every network interface"
        if ip.is_unspecified
        else f"the network interface with address {address}"
    )
    return (
        f"serving on {host}:{port}: anyone who can reach this machine on port {port} "
        f"({reach}) can open and drive {what}; {access}, so use it only on a "
        "network you trust"
    )


class ReadOnlyAssets:
    """An ASGI app in front of Solara's: the front-end files read-only, no diagnostics.

    Requests under :data:`CDN_PATH` are answered from ``cache`` alone, with the same
    static-file handler Solara serves its own package files with (Starlette's: it
    refuses paths that leave the folder, answers 404 for a folder or a missing file,
    and writes nothing); nothing is fetched or deleted, whatever the path. The paths in
    ``hidden`` get 404. Everything else, the page, its websocket and the server's
    start and stop, goes to ``app`` unchanged.
    """

    def __init__(self, app: ASGIApp, cache: Path, hidden: Sequence[str] = HIDDEN_PATHS) -> None:
        from starlette.applications import Starlette
        from starlette.routing import Mount, Route

        self.app = app
        self.hidden = tuple(hidden)
        files: ASGIApp = _static_files(cache) if cache.is_dir() else _not_found
        # A Starlette app for its error handling (a missing file is an HTTP 404, not a
        # server error); it only ever sees requests, never the server's start and stop.
        self.router = Starlette(
            routes=[
                Mount(CDN_PATH, app=files),
                *(Route(path, _not_found_endpoint) for path in self.hidden),
            ]
        )

    def ours(self, path: str) -> bool:
        path = "/" + path.strip("/")
        return path == CDN_PATH or path.startswith(CDN_PATH + "/") or path in self.hidden

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.ours(scope["path"]):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            scope = {**scope, "path": "/" + scope["path"].lstrip("/")}
            await self.router(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _static_files(cache: Path) -> ASGIApp:
    """Solara's static-file class when it has one (each file compressed once, in
    memory), else Starlette's; both serve files and nothing else."""
    try:
        from solara.server.starlette import StaticFilesOptionalAuth as Files
    except ImportError:
        from starlette.staticfiles import StaticFiles as Files
    return Files(directory=cache)


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    from starlette.responses import PlainTextResponse

    await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)


async def _not_found_endpoint(request: Any) -> Any:
    from starlette.responses import PlainTextResponse

    return PlainTextResponse("Not Found", status_code=404)


def solara_app(cache: Path | None = None) -> ASGIApp:
    """Solara's server app as the demo serves it to a room of clients.

    Solara's supported switches (``SOLARA_ASSETS_PROXY``, ``SOLARA_ASSETS_CDN``) turn
    its CDN proxy off and point the page at :data:`CDN_PATH`, where
    :class:`ReadOnlyAssets` serves the files from ``cache`` (default: Solara's own
    cache in the venv). Solara reads the switches when it builds its routes, so this
    must run before anything imports ``solara.server.starlette``; should something
    have, the proxy's route is still unreachable, because :class:`ReadOnlyAssets`
    answers every path under :data:`CDN_PATH` first. Production mode (no reloading,
    no tracebacks in the page) and no usage reports to a third party, which on a
    closed network only add delays. Solara imports the page named by ``SOLARA_APP``
    here, so set that first (:meth:`DemoServer.serve` does).
    """
    os.environ["SOLARA_ASSETS_PROXY"] = "false"
    os.environ["SOLARA_ASSETS_CDN"] = CDN_PATH
    os.environ["SOLARA_MODE"] = "production"
    os.environ["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "false"
    import solara.settings
    from solara.server import settings

    # Imported before (to find the cache, say), the settings have read the environment
    # already: set them again.
    solara.settings.assets.proxy = False
    solara.settings.assets.cdn = CDN_PATH
    settings.main.mode = "production"
    settings.telemetry.mixpanel_enable = False
    # Solara warns at every page load that plain http gets lax cookies: true and
    # harmless on localhost, and noise in a teacher's terminal.
    warnings.filterwarnings("ignore", message="Cookies with samesite=none", module="solara")
    from solara.server import starlette as solara_starlette

    from serviceprofit.demo.assets import cache_dir

    return ReadOnlyAssets(solara_starlette.app, cache if cache is not None else cache_dir())


@dataclass
class DemoServer:
    """A bound socket and the configuration; :meth:`serve` runs until interrupted."""

    config: DemoConfig
    host: str = "127.0.0.1"
    port: int = 8765
    sock: socket.socket = field(init=False, repr=False)

    def __post_init__(self) -> None:
        firm_scenarios(self.config)  # bad scenario files fail here, before any server
        self.sock = listen(self.host, self.port)
        self.port = self.sock.getsockname()[1]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def exposure(self) -> str | None:
        """The warning to print when the page can be reached from other machines."""
        return exposure_warning(self.sock, self.host)

    def serve(self) -> None:
        """Run Solara's server on the bound socket until Ctrl+C."""
        os.environ[CONFIG_ENV] = self.config.to_env()
        os.environ["SOLARA_APP"] = APP_MODULE
        os.environ["SERVER_NAME"] = self.host
        os.environ["SERVER_PORT"] = str(self.port)
        import uvicorn

        config = uvicorn.Config(solara_app(), log_level="warning", access_log=False, ws="auto")
        try:
            uvicorn.Server(config).run(sockets=[self.sock])
        finally:
            STOPPING.set()
