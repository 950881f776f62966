"""A class of thirty: clients that join, submit and play every quarter against one server.

    python benchmarks/classroom_load.py [--teams 30] [--quarters 12] [--real MARKET]

Starts ``python -m tests.classroom_serve`` (the game's server, pages included, over the
fake market run, or with ``--real MARKET`` over the market run itself) on 127.0.0.1 with
a fresh game directory, then drives it with one thread per team:
join, read the team's page, submit decisions (the starting levers, nudged at random within
bounds and budget), wait for the next quarter, asking every 2 seconds as the team page
does (``pages.FOLLOW_SECONDS``). The facilitator advances as soon as every
team has submitted and times the request. Bounded: it stops itself after ``--limit``
seconds. Prints JSON: seconds per advance (median, max), the server's resident memory
(peak, from /proc), requests made and failed. Exit 1 if any request failed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: How often a waiting team asks whether the quarter has moved on (the team page's pace;
#: not imported from the pages, which would load Solara into this client).
FOLLOW_SECONDS = 2.0


class Client:
    """HTTP to the game's API; counts requests and failures."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.lock = threading.Lock()
        self.requests = 0
        self.failures: list[str] = []

    def call(self, path: str, headers: dict[str, str], body: object | None = None) -> object:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + "api/" + path, data=data, headers=headers)
        with self.lock:
            self.requests += 1
        try:
            with urllib.request.urlopen(request, timeout=600) as answer:
                return json.loads(answer.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            with self.lock:
                self.failures.append(f"{path}: {exc}")
            return None


def start_server(args: argparse.Namespace, directory: Path) -> tuple[subprocess.Popen, str, str]:
    path = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH", ""), str(ROOT)) if p)
    env = {**os.environ, "PYTHONPATH": path}
    command = [
        sys.executable, "-m", "tests.classroom_serve",
        str(directory), "0", str(args.teams), str(args.quarters), "pages",
        *([args.real, "real"] if args.real else []),
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    url = token = ""
    for line in process.stdout:
        if line.startswith("READY"):
            _, url, token = line.split()
            break
        if line.startswith("Team page:"):
            url = line.split()[-1]
        if "token:" in line:
            token = line.split()[-1]
            break
    if not url or not token:
        process.kill()
        raise SystemExit("the server did not start")
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    return process, url, token


def peak_memory_mib(pid: int) -> float:
    """Peak resident memory of the server and its child processes (the market-run
    worker, Python's resource tracker), summed."""
    total = 0.0
    for candidate in [pid, *_children(pid)]:
        try:
            status = Path(f"/proc/{candidate}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
    return total


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out.extend(int(c) for c in text)
    return out


def team_loop(client: Client, code: str, quarters: int, seed: int, stop: threading.Event) -> None:
    rng = random.Random(seed)
    headers = {"X-Join-Code": code}
    client.call("join", {}, {"code": code, "name": f"load {code}"})
    for quarter in range(1, quarters + 1):
        view = client.call("team", headers)
        while view is not None and view["quarter"] < quarter and not stop.is_set():
            time.sleep(FOLLOW_SECONDS)
            view = client.call("team", headers)
        if view is None or stop.is_set():
            return
        levers = dict(view["decisions"])
        levers["empowerment"] = min(1.0, max(0.0, levers["empowerment"] + rng.uniform(-0.1, 0.1)))
        levers["handle_time"] = min(
            2.0, max(0.25, levers["handle_time"] + rng.uniform(-0.05, 0.05))
        )
        client.call("decisions", headers, levers)
        while not stop.is_set():  # wait for the advance
            view = client.call("team", headers)
            if view is None or view["quarter"] > quarter or view["over"]:
                break
            time.sleep(FOLLOW_SECONDS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=30)
    parser.add_argument("--quarters", type=int, default=12)
    parser.add_argument("--real", default=None, help="a market for the real market run")
    parser.add_argument("--limit", type=float, default=600.0, help="stop after this many s")
    parser.add_argument(
        "--join-seconds",
        type=float,
        default=0.0,
        help="wait this long before the teams join, as a class takes minutes to (the server"
        " warms its market run meanwhile)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        process, url, token = start_server(args, Path(folder) / "game")
        client = Client(url)
        stop = threading.Event()
        timer = threading.Timer(args.limit, stop.set)
        timer.start()
        facilitator = {"X-Facilitator-Token": token}
        advances: list[float] = []
        try:
            time.sleep(args.join_seconds)
            teams = client.call("facilitator", facilitator)["teams"]
            threads = [
                threading.Thread(
                    target=team_loop, args=(client, t["code"], args.quarters, i, stop), daemon=True
                )
                for i, t in enumerate(teams)
            ]
            for thread in threads:
                thread.start()
            while len(advances) < args.quarters and not stop.is_set():
                overview = client.call("facilitator", facilitator)
                if overview is None:
                    break
                if all(t["submitted"] for t in overview["teams"]):
                    began = time.perf_counter()
                    if client.call("advance", facilitator, {}) is None:
                        break
                    advances.append(time.perf_counter() - began)
                else:
                    time.sleep(0.2)
            for thread in threads:
                thread.join(timeout=max(1.0, args.limit))
            memory = peak_memory_mib(process.pid)
        finally:
            stop.set()
            timer.cancel()
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()  # its worker follows it (classroom.server._follow_parent)
                process.wait()
    figures = {
        "teams": args.teams,
        "quarters_played": len(advances),
        "engine": f"market run ({args.real})"
        if args.real
        else "fake (tests/classroom_fake_engine.py)",
        "advance_seconds_median": statistics.median(advances) if advances else None,
        "advance_seconds_max": max(advances) if advances else None,
        "advance_seconds": [round(a, 2) for a in advances],
        "server_peak_rss_mib": round(memory, 1),
        "requests": client.requests,
        "failed": len(client.failures),
        "first_failures": client.failures[:5],
        "stopped_by_limit": stop.is_set() and len(advances) < args.quarters,
    }
    print(json.dumps(figures, indent=2))
    return 1 if client.failures or len(advances) < args.quarters else 0


if __name__ == "__main__":
    sys.exit(main())
