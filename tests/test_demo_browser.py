"""The classroom page in a real browser: it loads with no failed request, its charts
draw, a lever changes, steps and play move the charts, the export buttons hand over
the charts and the weekly table, and a screenshot is kept.

Uses Debian's Chromium (``apt-get install chromium``) through playwright's Python
package, never a browser playwright downloads: this network reaches only package
registries. The page's front-end files must come from the local Solara cache that
``python -m serviceprofit.demo.assets`` fills, so any failed request fails the test.
Set SERVICEPROFIT_UPDATE_SCREENSHOT=1 to refresh docs/demo-screenshot.png.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .browser import CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[1]
DOC_SHOT = ROOT / "docs" / "demo-screenshot.png"
CHARTS = 6  # the waffle and the five charts of the chain

pytestmark = pytest.mark.browser

# Pixels a canvas has drawn (not transparent, not white); and each canvas as an image.
INKED = """() => Array.from(document.querySelectorAll('.vega-embed canvas')).map(c => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3] > 0 && (d[i] < 250 || d[i + 1] < 250 || d[i + 2] < 250)) n++;
    }
    return n;
})"""
IMAGES = "() => Array.from(document.querySelectorAll('.vega-embed canvas')).map(c => c.toDataURL())"


@pytest.fixture
def demo_url() -> Iterator[str]:
    """`serviceprofit demo --port 0` in a subprocess; its printed address."""
    process = subprocess.Popen(
        [sys.executable, "-m", "serviceprofit.cli", "demo", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in process.stdout], daemon=True).start()
    try:
        try:
            first = lines.get(timeout=60)
        except queue.Empty:
            pytest.fail("serviceprofit demo printed no address within 60 s")
        assert first.startswith("Classroom demo at http://127.0.0.1:"), first
        yield first.split()[3]
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        if process.stderr:
            process.stderr.close()


def _week(page) -> int:
    return int(page.locator(".sp-week").inner_text().split()[1])


def _wait_week(page, at_least: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while (week := _week(page)) < at_least:
        if time.monotonic() > deadline:
            pytest.fail(f"the page stayed at week {week}, expected {at_least}")
        time.sleep(0.2)
    return week


def _choose(page, firm: int, key: str, option: str) -> None:
    """Open a lever's drop-down and pick an option (Vuetify renders it in an overlay)."""
    page.locator(f".sp-firm-{firm} .sp-{key.replace('.', '-')} .v-select").click()
    page.locator(".v-overlay--active .v-list-item", has_text=option).first.click()
    label = page.locator(f".sp-firm-{firm} .sp-{key.replace('.', '-')} .sp-lever")
    label.filter(has_text=f": {option}").wait_for(timeout=30_000)


def _drag(page, firm: int, key: str, pixels: int) -> None:
    """Drag a lever's slider to the right, in small moves as a hand would."""
    thumb = page.locator(f".sp-firm-{firm} .sp-{key.replace('.', '-')} .v-slider-thumb")
    box = thumb.bounding_box()
    assert box is not None, f"no slider for {key}"
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for dx in range(0, pixels + 1, 10):
        page.mouse.move(x + dx, y)
        time.sleep(0.03)
    page.mouse.up()


def test_classroom_page_runs_in_chromium(chromium, demo_url, tmp_path):
    """Load, draw, step, play and pause, change a lever mid-run; no request may fail."""
    from playwright.sync_api import sync_playwright

    failed: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("requestfailed", lambda r: failed.append(f"{r.url} ({r.failure})"))
            page.on(
                "response",
                lambda r: failed.append(f"{r.url} ({r.status})") if r.status >= 400 else None,
            )
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(demo_url)

            # The charts themselves draw, not only the controls.
            page.wait_for_function(
                f"document.querySelectorAll('.vega-embed canvas').length >= {CHARTS}",
                timeout=60_000,
            )
            page.locator(".sp-chain svg").wait_for()
            assert _week(page) == 0
            time.sleep(1.0)
            inked = page.evaluate(INKED)
            assert len(inked) == CHARTS and min(inked) > 500, inked
            before = page.evaluate(IMAGES)

            # Three steps move every chart.
            step = page.get_by_role("button", name="Step")
            for week in (1, 2, 3):
                step.click()
                _wait_week(page, week)
            time.sleep(1.0)  # the browser redraws Vega charts after a short debounce
            after = page.evaluate(IMAGES)
            changed = [a != b for a, b in zip(after, before, strict=True)]
            assert all(changed), f"charts that did not change after three steps: {changed}"
            chain = page.locator(".sp-chain").inner_text()
            assert "Firm B: –" not in chain and "Firm A: –" not in chain

            # Play runs on its own at the fastest speed, and pause stops it.
            page.get_by_role("button", name="13").click()
            page.get_by_role("button", name="Play", exact=True).click()
            _wait_week(page, 52, timeout=150)  # 10-50 s, as busy as the machine is
            page.get_by_role("button", name="Pause").click()
            page.get_by_role("button", name="Play", exact=True).wait_for()
            stopped = _week(page)
            time.sleep(1.5)
            assert _week(page) == stopped
            # The whole page (Solara scrolls inside its own element, so grow the window).
            page.set_viewport_size({"width": 1400, "height": 3000})
            time.sleep(1.5)
            shot = tmp_path / "demo.png"
            page.screenshot(path=str(shot))

            # The export buttons hand over the charts and both firms' weeks as files.
            files = {}
            for label in ("Charts (PNG)", "Charts (SVG)", "Weekly data (CSV)"):
                with page.expect_download(timeout=60_000) as download:
                    page.get_by_role("button", name=label).click()
                files[label] = Path(download.value.path()).read_bytes()
            assert files["Charts (PNG)"].startswith(b"\x89PNG\r\n\x1a\n")
            assert b"<svg" in files["Charts (SVG)"][:1000]
            table = files["Weekly data (CSV)"].decode()
            rows = [line for line in table.splitlines() if not line.startswith("#")]
            assert rows[0].startswith("firm,week,")
            assert len(rows) == 1 + 2 * stopped
            assert f"# week: {stopped}" in table

            # A lever changed mid-run counts from the current week; the next step shows it.
            before = page.evaluate(IMAGES)
            chain = page.locator(".sp-chain").inner_text()
            _choose(page, 1, "strategy.organisation", "merged")
            _drag(page, 1, "strategy.marketing.spend_per_week", pixels=120)
            note = f"Changed in class: from week {stopped}: strategy.organisation"
            page.locator(".sp-firm-1", has_text=note).wait_for(timeout=60_000)
            page.locator(".sp-firm-1", has_text="strategy.marketing.spend_per_week=").wait_for()
            step.click()
            _wait_week(page, stopped + 1)
            time.sleep(1.0)
            assert page.locator(".sp-chain").inner_text() != chain
            changed = [a != b for a, b in zip(page.evaluate(IMAGES), before, strict=True)]
            assert sum(changed) >= 5, f"charts changed after the lever and a step: {changed}"
        finally:
            browser.close()
    assert shot.stat().st_size > 50_000
    if os.environ.get("SERVICEPROFIT_UPDATE_SCREENSHOT") or not DOC_SHOT.exists():
        DOC_SHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, DOC_SHOT)
    assert failed == [], f"failed requests: {failed}"
    assert errors == [], f"errors in the page: {errors}"


def test_rivals_switch_puts_both_firms_in_one_market(chromium, demo_url):
    """The switch runs the two firms as rivals: their shares and who went where appear,
    as a seventh chart and a table; no request fails."""
    from playwright.sync_api import sync_playwright

    failed: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("requestfailed", lambda r: failed.append(f"{r.url} ({r.failure})"))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(demo_url)
            page.wait_for_function(
                f"document.querySelectorAll('.vega-embed canvas').length >= {CHARTS}",
                timeout=60_000,
            )
            page.get_by_text("Rivals in one market").click()
            # the first market run in a server loads the compiled model
            page.locator(".sp-switching", has_text="Who went where").wait_for(timeout=240_000)
            page.wait_for_function(
                f"document.querySelectorAll('.vega-embed canvas').length >= {CHARTS + 1}",
                timeout=60_000,
            )
            table = page.locator(".sp-switching").inner_text()
            assert "Firm A" in table and "Firm B" in table
        finally:
            browser.close()
    assert failed == [], f"failed requests: {failed}"
    assert errors == [], f"errors in the page: {errors}"
