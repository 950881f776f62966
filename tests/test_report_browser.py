"""report.html opens in a headless Chromium and shows its figures.

Uses Debian's Chromium (``apt-get install chromium``), never a browser downloaded by
playwright: the report must render in the browser a colleague has, from one file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from serviceprofit.comparison.compare import compare
from serviceprofit.comparison.report import write_comparison
from serviceprofit.model.outcomes import OUTCOMES

from .browser import CHROMIUM_ARGS

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
TINY = {"population.customers": 300, "population.staff": 4, "weeks": 30}

pytestmark = pytest.mark.browser


def test_report_renders_with_its_figures(chromium, tmp_path):
    """Every embedded figure decodes (naturalWidth > 0), the table has a row per outcome."""
    from playwright.sync_api import sync_playwright

    files = [SCENARIOS / "silo.yaml", SCENARIOS / "merged.yaml"]
    comparison = compare(files, replicates=2, overrides=TINY, workers=1)
    report = write_comparison(comparison, tmp_path / "out")["report"]
    shot = tmp_path / "report.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            failed: list[str] = []
            page.on("requestfailed", lambda request: failed.append(request.url))
            page.goto(report.as_uri(), wait_until="load")
            widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
            title = page.title()
            headings = page.eval_on_selector_all("h2", "hs => hs.map(h => h.textContent)")
            rows = page.eval_on_selector_all("#results tbody tr", "r => r.length")
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert len(widths) == 5 and all(w > 0 for w in widths), widths
    assert "silo" in title and "merged" in title
    assert {"The question", "The scenarios", "Results", "Figures"} <= set(headings)
    assert rows == len(OUTCOMES)
    assert not failed, f"the report asked for something outside itself: {failed}"
    assert shot.stat().st_size > 10_000
