"""A class of thirty against one server on 127.0.0.1 (benchmarks/classroom_load.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_thirty_teams_play_twelve_quarters_without_a_failed_request():
    """30 clients join, submit and play 12 quarters; no request fails; the script, its
    server and the server's worker all stop by themselves (a hard timeout otherwise)."""
    done = subprocess.run(
        [sys.executable, "benchmarks/classroom_load.py", "--teams", "30", "--quarters", "12",
         "--limit", "400"],
        cwd=ROOT, capture_output=True, text=True, timeout=480, check=False,
    )  # fmt: skip
    figures = json.loads(done.stdout)
    assert done.returncode == 0, (figures, done.stderr[-2000:])
    assert figures["failed"] == 0 and figures["quarters_played"] == 12
    assert not figures["stopped_by_limit"]
