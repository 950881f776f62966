"""The classroom game in Chromium: create, join two teams, submit, advance, leaderboard,
debrief, a what-if replay and an export, on the pages teams and facilitator use.

The server is tests/classroom_serve.py (the game's server and pages over the fake market
run); the browser is Debian's Chromium (tests/browser.py). No request may fail.
Set SERVICEPROFIT_UPDATE_SCREENSHOT=1 to refresh docs/classroom-team.png and
docs/classroom-facilitator.png.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .browser import CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.browser


@pytest.fixture
def served(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.classroom_serve", str(tmp_path / "g"), "0", "2", "4",
         "pages"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    line = process.stdout.readline().split()
    assert line[:1] == ["READY"], line
    from serviceprofit.classroom.store import GAME_FILE, Store

    store = Store(tmp_path / "g" / GAME_FILE)
    codes = [t.code for t in store.teams()]
    store.close()
    yield line[1], line[2], codes
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def test_whole_flow_in_chromium(chromium, served, tmp_path):
    """Two teams join and submit, the facilitator advances, ranks, debriefs, replays, exports;
    the first team's page, left open, shows the new quarter by itself, and the
    facilitator's page shows its next submission by itself."""
    from playwright.sync_api import expect, sync_playwright

    url, token, codes = served
    failed: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            for number, code in enumerate(codes, start=1):
                page = browser.new_page(viewport={"width": 1200, "height": 1000})
                page.on("requestfailed", lambda r: failed.append(f"{r.url} ({r.failure})"))
                page.goto(url)
                page.get_by_label("Join code").fill(code)
                page.get_by_label("Team name").fill(f"Browser {number}")
                page.get_by_role("button", name="Join", exact=True).click()
                page.get_by_text("Quarter 1 of 4").wait_for(timeout=60_000)
                page.get_by_role("button", name="Submit", exact=True).click()
                page.get_by_text("Decisions saved").wait_for(timeout=60_000)
                if number == 1:
                    page.screenshot(path=str(tmp_path / "team.png"), full_page=True)
                    team_page = page  # left open: it must follow the game by itself
                    continue
                page.wait_for_load_state("networkidle")
                page.close()
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            page.on("requestfailed", lambda r: failed.append(f"{r.url} ({r.failure})"))
            page.goto(url + "facilitator")
            page.get_by_label("Facilitator token").fill(token)
            page.get_by_role("button", name="Open", exact=True).click()
            page.get_by_text("Quarter 1 of 4").wait_for(timeout=60_000)
            page.get_by_role("button", name="Advance the quarter").click()
            page.get_by_text("Quarter 2 of 4").wait_for(timeout=60_000)
            team_page.get_by_text("Quarter 2 of 4").wait_for(timeout=30_000)  # no reload
            assert team_page.get_by_text("Decisions saved").count() == 0
            # The facilitator's page follows submissions by itself: both teams joined
            # (two True cells), none submitted yet; team 1 submits, and a third appears.
            cells = page.get_by_role("cell", name="True", exact=True)
            expect(cells).to_have_count(2, timeout=30_000)
            team_page.get_by_role("button", name="Submit", exact=True).click()
            expect(cells).to_have_count(3, timeout=30_000)
            page.get_by_role("button", name="Show", exact=True).click()
            page.get_by_text("Browser 2").first.wait_for(timeout=60_000)
            page.get_by_role("button", name="Debrief", exact=True).click()
            page.get_by_text("same market, same luck").wait_for(timeout=60_000)
            page.get_by_role("button", name="What if they had doubled training then?").click()
            page.get_by_text("What-if replay").wait_for(timeout=60_000)
            with page.expect_download(timeout=60_000) as download:
                page.get_by_role("button", name="Results (CSV)").click()
            text = Path(download.value.path()).read_text()
            assert "Browser 1" in text and text.startswith("# serviceprofit")
            page.screenshot(path=str(tmp_path / "facilitator.png"), full_page=True)
            page.wait_for_load_state("networkidle")
        finally:
            browser.close()
    assert not failed, failed
    if os.environ.get("SERVICEPROFIT_UPDATE_SCREENSHOT") == "1":
        for name in ("team", "facilitator"):
            shutil.copy(tmp_path / f"{name}.png", ROOT / "docs" / f"classroom-{name}.png")
