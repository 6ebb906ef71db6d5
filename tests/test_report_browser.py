"""report.html in a real headless Chromium: no injected script runs, the grid shows, ours works.

Needs `pip install playwright` and a `chromium` binary on PATH (e.g. `apt-get install
chromium`); skipped otherwise. Run with `pytest -m browser`.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from test_compare import article, party, position

from stance.compare import compare
from stance.report import write_run_reports

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium")
if CHROMIUM is None:
    pytest.skip("no `chromium` on PATH (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
)

T = "European troops monitoring a Ukraine ceasefire"
PAYLOADS = [
    "<script>window.__xss = 'script'; alert(1)</script>",
    '"><img src=x onerror="window.__xss=\'img\';alert(1)">',
    "'><svg onload=\"window.__xss='svg'\">",
    "</textarea></style></script><script>window.__xss='breakout'</script>",
]


def build_report(out: Path) -> Path:
    evil = PAYLOADS[0]
    analyses = [
        article(
            "evil",
            [party(evil, aliases=[PAYLOADS[1]]), party(PAYLOADS[2], "group"), party("Helen Marsh")],
            [
                position(evil, T, "support", quote=PAYLOADS[1] + PAYLOADS[3], text=PAYLOADS[2]),
                position(PAYLOADS[2], T + PAYLOADS[3], "oppose", quote=evil),
                position("Helen Marsh", T, "oppose", quote="no"),
            ],
            title=PAYLOADS[3],
            outlet=PAYLOADS[1],
            date=PAYLOADS[2],
            url="javascript:window.__xss='url'",
            summary=" ".join(PAYLOADS),
            model=PAYLOADS[0],
        ),
        article(
            "ok",
            [party("Helen Marsh")],
            [position("Helen Marsh", T, "support")],
            date="2024-12-01",
            outlet="Post",
        ),
    ]
    manifest = {
        "model": PAYLOADS[1],
        "failures": [{"article_id": PAYLOADS[0], "path": PAYLOADS[3], "message": PAYLOADS[2]}],
    }
    write_run_reports(out, analyses, compare(analyses), manifest)
    return out / "report.html"


def test_report_in_headless_chromium(tmp_path: Path) -> None:
    report = build_report(tmp_path)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page()
            dialogs: list[str] = []
            requests: list[str] = []

            def on_dialog(dialog: Any) -> None:
                dialogs.append(dialog.message)
                dialog.dismiss()

            page.on("dialog", on_dialog)
            page.on("request", lambda r: requests.append(r.url))
            page.goto(report.as_uri())
            page.wait_for_load_state("load")

            assert page.evaluate("typeof window.__xss") == "undefined"
            assert dialogs == []
            # escaping, not only the page's CSP, kept the payloads inert: no element came of them
            assert page.locator("script").count() == 1
            assert page.locator("img, svg, textarea").count() == 0
            assert [u for u in requests if u != report.as_uri()] == []  # nothing fetched

            grid = page.locator("#matrix-grid")
            assert grid.is_visible()
            cells = grid.locator("a.cell")
            assert cells.count() == 3
            assert all(cells.nth(i).is_visible() for i in range(cells.count()))
            # the payloads are shown as text
            assert PAYLOADS[0] in grid.inner_text()

            # our own script does run (its CSP hash matches): sorting and filtering work
            header = page.locator("#merges-table thead th").first
            header.click()
            assert header.get_attribute("aria-sort") == "ascending"
            box = page.locator('input[data-filter="matrix-grid"]')
            assert box.is_visible()
            box.fill("Helen")
            visible = [r for r in grid.locator("tbody tr").all() if r.is_visible()]
            assert [r.locator("th").inner_text() for r in visible] == ["Helen Marsh"]

            # clicking a cell jumps to its quotes
            grid.locator("a.cell").first.click()
            assert page.evaluate("location.hash").startswith("#c-")
            assert page.evaluate("typeof window.__xss") == "undefined"
        finally:
            browser.close()
