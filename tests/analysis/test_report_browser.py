"""Open report.html in a real headless Chromium at 1280 × 900: the page loads, its first screen
is the answer (the findings and the task × variant matrix), nothing is wider than the window,
every figure decodes and is not blank, every section of the table of contents has content."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHECK_JS = Path(__file__).with_name("browser_check.js")
WIDTH, HEIGHT = 1280, 900


def _browser() -> str | None:
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


@pytest.fixture(scope="module")
def rendered(report_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The measurements of browser_check.js on the synthetic study's report."""
    browser = _browser()
    if browser is None:
        pytest.skip("no Chromium/Chrome found (on Debian: apt-get install chromium; .ci/run "
                    "installs it); the report was not opened in a browser")
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    checked = tmp_path_factory.mktemp("browser") / "report_checked.html"
    checked.write_text(page.replace("</body>", f"<script>{CHECK_JS.read_text()}</script></body>"),
                       encoding="utf-8")
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--window-size={WIDTH},{HEIGHT}",
         "--run-all-compositor-stages-before-draw", "--virtual-time-budget=20000",
         "--dump-dom", checked.as_uri()],
        check=False, capture_output=True, text=True, timeout=120,
    )
    m = re.search(r'<pre id="browser-check"[^>]*>(.*?)</pre>', proc.stdout, re.DOTALL)
    assert m, f"the report did not load or the check did not run: {proc.stderr[-2000:]}"
    return {"page": page, **json.loads(html.unescape(m.group(1)))}


def test_first_screen_is_the_findings_and_the_matrix(rendered: dict) -> None:
    lay = rendered["layout"]
    screen = lay["viewport"]["height"]  # the window less the browser's own frame
    assert lay["viewport"]["width"] == WIDTH and screen > HEIGHT * 0.8, lay["viewport"]
    rows = lay["findingsRows"]
    assert [r[0] for r in rows] == [str(i) for i in range(1, 12)]
    verdicts = {"reproduced", "not reproduced", "consistent, underpowered", "not testable"}
    assert all(r[2] in verdicts and len(r[3]) > 10 for r in rows), rows  # verdict + reason
    assert 0 < lay["findingsBottom"] <= screen and 0 < lay["matrixBottom"] <= screen, lay
    assert lay["firstSection"] == "answer"


def test_nothing_is_wider_than_the_window(rendered: dict) -> None:
    lay = rendered["layout"]
    assert lay["scrollWidth"] <= lay["clientWidth"], lay  # clientWidth: less the scrollbar
    assert lay["wideTables"] == [], lay


def test_every_figure_and_section_renders(rendered: dict) -> None:
    images = rendered["images"]
    assert len(images) == rendered["page"].count("<img ")
    for img in images:
        assert img["complete"] and img["width"] > 100 and img["height"] > 100, img
        assert "error" not in img, img
        assert img["inked"] > 0.02 and img["colors"] > 20, f"blank figure: {img}"
    sections = {s["id"]: s for s in rendered["sections"]}
    assert [f"#{sid}" for sid in sections] == rendered["toc"]
    for s in sections.values():
        assert s["text"] > 30 and s["height"] > 50, s
