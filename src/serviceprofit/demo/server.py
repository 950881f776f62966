"""Starting the classroom page: which firms, where to listen, and Solara's server.

The page (:mod:`serviceprofit.demo.app`) runs inside Solara's own server (Starlette
under uvicorn), exactly as ``solara run`` would start it, but from this Python: the
venv's Solara, its CDN cache and its packages. The socket is bound before the server
starts, so a port already in use is reported at once, as bad input, and port 0 picks
a free port whose address can be printed. What the page should show travels to it in
one environment variable, since Solara imports the page module itself.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..scenario import Scenario, load_scenario
from ..shipped import shipped_dir
from .classroom import find_scenarios

__all__ = ["CONFIG_ENV", "STOPPING", "DemoConfig", "DemoServer", "ServerError", "firm_scenarios"]

CONFIG_ENV = "SERVICEPROFIT_DEMO_CONFIG"
APP_MODULE = "serviceprofit.demo.app"
DEFAULT_PAIR = ("customer_value", "cost_minimised")
LABELS = ("Firm A", "Firm B")
# Set when the server stops, so that a page's play loop does not keep the process alive.
STOPPING = threading.Event()


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


@dataclass
class DemoServer:
    """A bound socket and the configuration; :meth:`serve` runs until interrupted."""

    config: DemoConfig
    host: str = "127.0.0.1"
    port: int = 8765
    sock: socket.socket = field(init=False, repr=False)

    def __post_init__(self) -> None:
        firm_scenarios(self.config)  # bad scenario files fail here, before any server
        try:
            infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise ServerError(f"--host {self.host}: cannot resolve ({exc.strerror})") from None
        family, _, _, _, address = infos[0]
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind(address)
            self.sock.listen(128)  # hold the port from now on, before the server runs
        except OSError as exc:
            self.sock.close()
            raise ServerError(
                f"cannot listen on {self.host}:{self.port} ({exc.strerror}); "
                "try another --port, or --port 0 for any free port"
            ) from None
        self.port = self.sock.getsockname()[1]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def serve(self) -> None:
        """Run Solara's server on the bound socket until Ctrl+C."""
        os.environ[CONFIG_ENV] = self.config.to_env()
        os.environ["SOLARA_APP"] = APP_MODULE
        os.environ["SERVER_NAME"] = self.host
        os.environ["SERVER_PORT"] = str(self.port)
        # A classroom page has no business reporting usage to a third party, and on a
        # closed network the attempt only adds delays.
        os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "false")
        import uvicorn
        from solara.server import settings

        # Solara warns at every page load that plain http gets lax cookies: true and
        # harmless on localhost, and noise in a teacher's terminal.
        warnings.filterwarnings("ignore", message="Cookies with samesite=none", module="solara")

        settings.telemetry.mixpanel_enable = False
        settings.main.mode = "production"
        config = uvicorn.Config(
            "solara.server.starlette:app", log_level="warning", access_log=False, ws="auto"
        )
        try:
            uvicorn.Server(config).run(sockets=[self.sock])
        finally:
            STOPPING.set()
