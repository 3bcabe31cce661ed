"""Open report.html in a real headless browser and check that every figure loads and is not
blank and that every section of the table of contents has content."""

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


def _browser() -> str | None:
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


def test_report_renders_in_headless_browser(report_dir: Path, tmp_path: Path) -> None:
    browser = _browser()
    if browser is None:
        pytest.skip("no Chromium/Chrome found (on Debian: apt-get install chromium); "
                    "the report was not opened in a browser")
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    checked = tmp_path / "report_checked.html"
    checked.write_text(page.replace("</body>", f"<script>{CHECK_JS.read_text()}</script></body>"),
                       encoding="utf-8")
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--virtual-time-budget=20000", "--dump-dom", checked.as_uri()],
        check=False, capture_output=True, text=True, timeout=120,
    )
    m = re.search(r'<pre id="browser-check">(.*?)</pre>', proc.stdout, re.DOTALL)
    assert m, f"the check script did not run; browser stderr: {proc.stderr[-2000:]}"
    result = json.loads(html.unescape(m.group(1)))
    images = result["images"]
    assert len(images) == page.count("<img ")
    for img in images:
        assert img["complete"] and img["width"] > 100 and img["height"] > 100, img
        assert "error" not in img, img
        assert img["inked"] > 0.02 and img["colors"] > 20, f"blank figure: {img}"
    sections = {s["id"]: s for s in result["sections"]}
    assert [f"#{sid}" for sid in sections] == result["toc"]
    for s in sections.values():
        assert s["text"] > 30 and s["height"] > 50, s
