"""The classroom game over HTTP: the JSON API's answers, and a server killed mid-game."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from serviceprofit.classroom.server import MAX_BODY

ROOT = Path(__file__).resolve().parent.parent


def _request(url, path, headers=None, body=None, raw=None):
    """(status, body bytes) of one request; a refused one is an answer, not an error."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url + "api/" + path, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def served(tmp_path):
    process, url, token = _start([str(tmp_path / "game"), "0", "2", "3"])
    yield url, token
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def test_api_flow_and_refusals(served):
    """Join, submit, advance and read back; a wrong code or token gets 403, a bad
    decision 400 with the lever named, an oversized body 413; exports carry provenance."""
    url, token = served
    facilitator = {"X-Facilitator-Token": token}
    a, b = [t["code"] for t in _call(url, "facilitator", facilitator)["teams"]]
    team_a = {"X-Join-Code": a}
    start = _call(url, "team", team_a)["decisions"]
    assert _call(url, "join", {}, {"code": a, "name": "Alpha"})["name"] == "Alpha"
    assert _request(url, "join", body={"code": "NOPE12"})[0] == 403
    status, answer = _request(url, "decisions", team_a, {**start, "empowerment": 2})
    assert status == 400 and b"empowerment" in answer
    assert _request(url, "decisions", team_a, start)[0] == 200
    assert _request(url, "advance", {"X-Facilitator-Token": a}, {})[0] == 403
    assert _request(url, "facilitator")[0] == 403
    assert _call(url, "facilitator", facilitator)["teams"][0]["submitted"] is True
    assert _call(url, "advance", facilitator, {}) == {"played": 1}
    view = _call(url, "team", {"X-Join-Code": b})
    assert view["quarter"] == 2 and len(view["report"]) == 1
    assert _request(url, "decisions", team_a, raw=b"x" * (MAX_BODY + 1))[0] == 413
    assert _request(url, "decisions", team_a, raw=b"{")[0] == 400
    board = _call(url, "leaderboard?metric=profit", facilitator)
    assert [r["rank"] for r in board] == [1, 2]
    assert _request(url, "leaderboard?metric=x", facilitator)[0] == 400
    debrief = _call(url, "debrief/1", facilitator)
    assert set(debrief["benchmarks"]) == {"customer_value", "cost_minimising"}
    what_if = _call(url, "whatif", facilitator, {"team": 1, "quarter": 1, "decisions": start})
    assert what_if["what_if_profit"] == what_if["played_profit"]  # same levers, same luck
    status, csv = _request(url, "export/results.csv", facilitator)
    assert status == 200 and b"# serviceprofit" in csv and b"Alpha" in csv
    status, png = _request(url, "export/profit.png", facilitator)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    status, page = _request(url, "export/debrief.html", facilitator)
    assert b"Leaderboard" in page and b"same luck" in page
    assert _request(url, "export/results.csv")[0] == 403
    # Join codes are throttled per address: one wrong code was sent above; four more
    # lock this address out, and then even a right code is refused, saying how long.
    for guess in ("NOPE13", "NOPE14", "NOPE15", "NOPE16"):
        assert _request(url, "join", body={"code": guess})[0] == 403
    status, answer = _request(url, "team", team_a)
    assert status == 429
    assert json.loads(answer) == {
        "error": "too many wrong join codes from this address: try again in 60 s"
    }


def _start(args: list[str]) -> tuple[subprocess.Popen, str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.classroom_serve", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline().split()
    assert line and line[0] == "READY", line
    return process, line[1], line[2]


def _call(url: str, path: str, headers: dict[str, str], body: object | None = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + "api/" + path, data=data, headers=headers)
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return json.loads(answer.read())
        except urllib.error.URLError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out.extend(int(c) for c in (task / "children").read_text().split())
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _all_gone(pids: list[int], seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while any(_alive(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_killed_server_resumes_where_it_was(tmp_path):
    """Kill the server (SIGKILL) after two quarters and a submission, restart it with the
    same command: same token, codes, quarter, rows and the open quarter's submission.
    The market-run worker ends with the server, killed (SIGKILL) or stopped (SIGTERM)."""
    args = [str(tmp_path / "game"), "0", "3", "6"]
    process, url, token = _start(args)
    try:
        facilitator = {"X-Facilitator-Token": token}
        codes = [t["code"] for t in _call(url, "facilitator", facilitator)["teams"]]
        for _ in range(2):
            _call(url, "advance", facilitator, {})
        view = _call(url, "team", {"X-Join-Code": codes[0]})
        _call(
            url, "decisions", {"X-Join-Code": codes[0]}, {**view["decisions"], "empowerment": 0.9}
        )
        before = _call(url, "team", {"X-Join-Code": codes[1]})
        workers = _children(process.pid)
        assert workers  # the market-run worker (and multiprocessing's resource tracker)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert _all_gone(workers)
    process, url, again = _start(args)
    try:
        assert again == token
        overview = _call(url, "facilitator", facilitator)
        assert overview["played"] == 2
        assert [t["code"] for t in overview["teams"]] == codes
        assert [t["submitted"] for t in overview["teams"]] == [True, False, False]
        assert _call(url, "team", {"X-Join-Code": codes[1]}) == before
        assert _call(url, "advance", facilitator, {}) == {"played": 3}
        workers = _children(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert workers and _all_gone(workers, 5.0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no_such_market"], "no_such_market"),
        (["three_firms", "--port", "70000"], "--port 70000"),
    ],
)
def test_classroom_command_refuses_bad_input_in_one_line(args, message, tmp_path):
    """Bad input: exit code 2 and one line naming what is wrong, no traceback, no server."""
    done = subprocess.run(
        [sys.executable, "-m", "serviceprofit.cli", "classroom", *args,
         "--game-dir", str(tmp_path / "g")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and lines[0].startswith("error:")
