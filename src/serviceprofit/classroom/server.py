"""Serving a game: a small JSON API and the Solara pages, from one process.

Every request goes through :class:`Classroom`, which holds the one :class:`~.game.Game`:
changes one at a time under a lock (a quarter is advanced by one request at a time; a
team's submission waits for an advance in progress), reads at any time, and the game's
timer ticked once a second. Market runs happen in a worker process (:class:`OffProcess`),
so pages and requests are answered while a quarter is being played. The JSON API is
what the pages' buttons do, for scripts and the load test: team requests carry the
team's join code in the ``X-Join-Code`` header, facilitator requests the token in
``X-Facilitator-Token``; a body is JSON of at most :data:`MAX_BODY` bytes. No request
names a file: exports are built in memory and sent. Answers: 200, 400 (bad input, one
line in ``error``), 403 (no or wrong code or token), 413 (body too large), 429 (too
many wrong join codes from this address: :class:`~.auth.Throttle`, with ``Retry-After``),
503 (the market cannot be run). A client is its address: the API's peer address, and
for the pages the websocket's peer address, which :class:`ClassroomApp` hands to them
in the :data:`CLIENT_HEADER` header (one a browser sends itself is dropped).

Serving reuses the demo's machinery (:mod:`serviceprofit.demo.server`): the socket is
bound first (:func:`~serviceprofit.demo.server.listen`), a non-loopback address gets
:func:`~serviceprofit.demo.server.exposure_warning`, and Solara runs with its CDN proxy
off behind :class:`~serviceprofit.demo.server.ReadOnlyAssets`
(:func:`~serviceprofit.demo.server.solara_app`).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from serviceprofit.classroom.auth import AuthError, Throttle, Throttled
from serviceprofit.classroom.decisions import DecisionError
from serviceprofit.classroom.engine import EngineError, MarketRun
from serviceprofit.classroom.game import Game, GameError
from serviceprofit.demo.server import STOPPING, ServerError, exposure_warning, listen, solara_app

__all__ = [
    "API_PREFIX",
    "CLIENT_HEADER",
    "MAX_BODY",
    "Classroom",
    "ClassroomServer",
    "OffProcess",
    "api_app",
    "current",
]

API_PREFIX = "/api"
#: The header that carries a page's client address to the pages (set by the server only).
CLIENT_HEADER = "x-serviceprofit-client"
MAX_BODY = 64 * 1024
PAGES_MODULE = "serviceprofit.classroom.pages"

_current: Classroom | None = None


def current() -> Classroom:
    """The game this process serves (the pages find it here: Solara imports them itself)."""
    if _current is None:
        raise RuntimeError("no classroom game is being served")
    return _current


class OffProcess:
    """An engine whose market runs happen in one worker process.

    A market run holds Python's global interpreter lock for most of its seconds; run in
    the server's process it would stall every page and request while a quarter is
    played. In a worker process it stalls nothing but the advance that waits for it.
    The worker is started on first use (spawned, never forked from a threaded server).
    It exits by itself when the server's process is gone (:func:`_follow_parent`): a
    server killed with SIGKILL cannot shut its pool down, and an orphaned worker would
    hold the server's standard error open for ever (the load test's hang).
    """

    def __init__(self, engine: MarketRun) -> None:
        self.engine = engine
        self._pool: Any = None

    @property
    def firms(self) -> tuple[str, ...]:
        return self.engine.firms

    @property
    def weeks(self) -> int:
        return self.engine.weeks

    @property
    def backend(self) -> str:
        return str(getattr(self.engine, "backend", "market run"))

    def scenario(self, firm: str) -> Any:
        return self.engine.scenario(firm)

    def _worker(self) -> Any:
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=context,
                initializer=_follow_parent,
                initargs=(os.getpid(),),
            )
        return self._pool

    def warm(self) -> None:
        """Start the worker now and let it play the market's first week once, in the
        background, while teams join: the first advance then does not pay for starting
        a process and loading the compiled market run (6 of its 8 s on a quiet laptop).
        What the warm-up plays is thrown away; an advance submitted meanwhile waits
        for it."""
        self._worker().submit(_warm_up, self.engine)

    def play(self, events: Any, seed: int, stop: int, resume: Any = None) -> Any:
        return self._worker().submit(self.engine.play, events, seed, stop, resume).result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def _warm_up(engine: MarketRun) -> None:
    """In the worker: one week of the market with no decisions, to load what the first
    advance needs. A failure here is the first advance's to report, with its context."""
    try:
        engine.play({}, 0, 1)
    except Exception:  # the real advance reports it
        return


def _follow_parent(parent: int, every: float = 0.5) -> None:
    """In the worker: a daemon thread that ends the worker once ``parent`` is no longer
    its parent (the server died without shutting the pool down)."""
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(0)

    threading.Thread(target=watch, name="follow-server", daemon=True).start()


#: Game actions that change it: one at a time. Everything else only reads.
WRITES = frozenset({"join", "submit", "advance", "set_timer", "set_auto", "set_leaderboard"})


@dataclass
class Classroom:
    """The served game: changes one at a time (one lock), reads at any time.

    Reads need no lock: the game swaps in a played quarter's rows in one assignment,
    after the store has saved them, so a read sees the quarter before or after, never
    half of one. A submission waits while a quarter is being played, then counts for
    the quarter open when it is saved: never lost, never half-played.
    """

    game: Game
    lock: threading.RLock = field(default_factory=threading.RLock)
    throttle: Throttle = field(default_factory=Throttle)

    def call(self, action: Callable[..., Any], *args: Any) -> Any:
        if getattr(action, "__name__", "") in WRITES:
            with self.lock:
                return action(*args)
        return action(*args)

    def as_team(self, client: str, action: Callable[..., Any], code: object, *args: Any) -> Any:
        """A team's action (its join code first): refused while ``client`` is locked out
        for wrong codes, and a wrong code counted against it."""
        self.throttle.check(client)
        try:
            return self.call(action, code, *args)
        except Throttled:
            raise
        except AuthError:
            self.throttle.wrong(client)
            raise

    def tick(self) -> bool:
        with self.lock:
            return self.game.tick()

    def run_timer(self, stop: threading.Event, every: float = 1.0) -> threading.Thread:
        def loop() -> None:
            while not stop.wait(every):
                with contextlib.suppress(GameError, EngineError):
                    self.tick()  # a failure shows when the facilitator advances by hand

        thread = threading.Thread(target=loop, name="classroom-timer", daemon=True)
        thread.start()
        return thread


def api_app(classroom: Classroom) -> Any:
    """The JSON API as a Starlette app (mounted at :data:`API_PREFIX`)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from serviceprofit.classroom import export

    game = classroom.game

    async def body(request: Request) -> Any:
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_BODY:
                raise _TooLarge
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise DecisionError("the body must be JSON") from None

    def code(request: Request) -> str:
        return request.headers.get("x-join-code", "")

    def token(request: Request) -> str:
        return request.headers.get("x-facilitator-token", "")

    def handled(endpoint: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def wrapper(request: Request) -> Response:
            import anyio

            try:
                payload = await body(request) if request.method == "POST" else {}
                result = await anyio.to_thread.run_sync(lambda: endpoint(request, payload))
            except _TooLarge:
                return JSONResponse({"error": f"body over {MAX_BODY} bytes"}, 413)
            except Throttled as exc:
                return JSONResponse(
                    {"error": str(exc)}, 429, headers={"Retry-After": str(exc.retry_after)}
                )
            except AuthError as exc:
                return JSONResponse({"error": str(exc)}, 403)
            except (DecisionError, GameError) as exc:
                return JSONResponse({"error": str(exc)}, 400)
            except EngineError as exc:
                return JSONResponse({"error": str(exc)}, 503)
            if isinstance(result, Response):
                return result
            return JSONResponse(_plain(result))

        return wrapper

    def client(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    def join(request: Request, data: Any) -> Any:
        name = data.get("name", "") if isinstance(data, dict) else ""
        code_given = data.get("code") if isinstance(data, dict) else None
        team = classroom.as_team(client(request), game.join, code_given, str(name))
        return {"team": team.number, "name": team.name}

    def team_view(request: Request, data: Any) -> Any:
        return classroom.as_team(client(request), game.owner_view, code(request))

    def decisions(request: Request, data: Any) -> Any:
        submitted = classroom.as_team(client(request), game.submit, code(request), data)
        return {"decisions": submitted.model_dump()}

    def overview(request: Request, data: Any) -> Any:
        return game.overview(token(request))

    def advance(request: Request, data: Any) -> Any:
        return {"played": classroom.call(game.advance, token(request))}

    def timer(request: Request, data: Any) -> Any:
        seconds = data.get("seconds") if isinstance(data, dict) else None
        if seconds is not None and not isinstance(seconds, int | float):
            raise GameError("seconds: a number, or null for no timer")
        classroom.call(game.set_timer, token(request), seconds)
        return game.overview(token(request))

    def auto(request: Request, data: Any) -> Any:
        classroom.call(
            game.set_auto, token(request), bool(isinstance(data, dict) and data.get("on"))
        )
        return game.overview(token(request))

    def leaderboard(request: Request, data: Any) -> Any:
        metric = request.query_params.get("metric")
        return game.leaderboard(token(request), metric).to_dict(orient="records")

    def debrief(request: Request, data: Any) -> Any:
        report = game.debrief(token(request), _int(request.path_params["team"]))
        report["chain"] = report["chain"].to_dict(orient="records")
        return report

    def what_if(request: Request, data: Any) -> Any:
        if not isinstance(data, dict):
            raise GameError("what-if: {team, quarter, decisions}")
        out = game.what_if(
            token(request), _int(data.get("team")), _int(data.get("quarter")), data.get("decisions")
        )
        out.pop("rows")
        return out

    def results(request: Request, data: Any) -> Any:
        return Response(export.results_csv(game, token(request)), media_type="text/csv")

    def chart(request: Request, data: Any) -> Any:
        column = request.path_params["column"]
        if column not in ("profit", "customers"):
            raise GameError("chart: profit or customers")
        return Response(
            export.class_chart_png(game, token(request), column), media_type="image/png"
        )

    def printable(request: Request, data: Any) -> Any:
        return Response(export.debrief_html(game, token(request)), media_type="text/html")

    routes = [
        Route("/join", handled(join), methods=["POST"]),
        Route("/team", handled(team_view), methods=["GET"]),
        Route("/decisions", handled(decisions), methods=["POST"]),
        Route("/facilitator", handled(overview), methods=["GET"]),
        Route("/advance", handled(advance), methods=["POST"]),
        Route("/timer", handled(timer), methods=["POST"]),
        Route("/auto", handled(auto), methods=["POST"]),
        Route("/leaderboard", handled(leaderboard), methods=["GET"]),
        Route("/debrief/{team}", handled(debrief), methods=["GET"]),
        Route("/whatif", handled(what_if), methods=["POST"]),
        Route("/export/results.csv", handled(results), methods=["GET"]),
        Route("/export/{column}.png", handled(chart), methods=["GET"]),
        Route("/export/debrief.html", handled(printable), methods=["GET"]),
    ]
    return Starlette(routes=routes)


class _TooLarge(Exception):
    pass


def _with_client(scope: Any) -> list[tuple[bytes, bytes]]:
    """The websocket's headers with :data:`CLIENT_HEADER` set to its peer's address (and
    any the browser sent dropped), so that the pages can throttle by address."""
    peer = scope.get("client") or ("unknown", 0)
    kept = [(k, v) for k, v in scope.get("headers", []) if k.lower() != CLIENT_HEADER.encode()]
    return [*kept, (CLIENT_HEADER.encode(), str(peer[0]).encode())]


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise GameError("expected a whole number")
    try:
        return int(value)
    except ValueError:
        raise GameError("expected a whole number") from None


def _plain(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN to null (a NaN is no number to show)."""
    import math

    import numpy as np

    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class ClassroomApp:
    """``/api`` to the JSON API, everything else to Solara's pages (read-only assets)."""

    def __init__(self, classroom: Classroom, pages: Any | None) -> None:
        self.api = api_app(classroom)
        self.pages = pages

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] in ("http", "websocket") and (
            path == API_PREFIX or path.startswith(API_PREFIX + "/")
        ):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            scope = {**scope, "path": path[len(API_PREFIX) :] or "/", "root_path": API_PREFIX}
            await self.api(scope, receive, send)
        elif self.pages is not None:
            if scope["type"] == "websocket":
                scope = {**scope, "headers": _with_client(scope)}
            await self.pages(scope, receive, send)
        elif scope["type"] == "lifespan":
            message = await receive()
            while message["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
                message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
        else:
            from starlette.responses import PlainTextResponse

            await PlainTextResponse("Not Found", 404)(scope, receive, send)


@dataclass
class ClassroomServer:
    """A bound socket and a game; :meth:`serve` runs until interrupted."""

    game: Game
    host: str = "127.0.0.1"
    port: int = 8766
    pages: bool = True

    def __post_init__(self) -> None:
        try:
            self.sock = listen(self.host, self.port)
        except ServerError:
            self.game.store.close()
            raise
        self.port = self.sock.getsockname()[1]
        self.game.engine = OffProcess(self.game.engine)
        self.game.engine.warm()
        self.classroom = Classroom(self.game)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def exposure(self) -> str | None:
        return exposure_warning(
            self.sock,
            self.host,
            "the game's pages",
            "join codes and the facilitator's token guard what each can do, but they travel "
            "unencrypted (plain http)",
        )

    def serve(self) -> None:
        """Run the server on the bound socket until Ctrl+C or SIGTERM."""
        global _current
        _current = self.classroom
        os.environ["SOLARA_APP"] = PAGES_MODULE
        os.environ["SERVER_NAME"] = self.host
        os.environ["SERVER_PORT"] = str(self.port)
        import uvicorn

        app = ClassroomApp(self.classroom, solara_app() if self.pages else None)
        config = uvicorn.Config(app, log_level="warning", access_log=False, ws="auto")
        stop = threading.Event()
        self.classroom.run_timer(stop)

        def close() -> None:
            stop.set()
            STOPPING.set()
            self.game.engine.close()
            self.game.store.close()

        class Server(uvicorn.Server):
            """Closes the game when serving stops. On SIGTERM uvicorn shuts down, then
            raises the signal again, which ends the process before any ``finally`` runs:
            the market-run worker would be left behind, so close here, before that."""

            async def shutdown(self, sockets: Any = None) -> None:
                await super().shutdown(sockets=sockets)
                close()

        try:
            Server(config).run(sockets=[self.sock])
        finally:
            close()
