"""Integration in headless Chromium (tests/browser.py): an operator signs in to /giam-sat through the form, sees
the figures, and the page updates itself (no reload) when a dossier becomes overdue and a message is
dead-lettered. The screenshot is kept as test-artifacts/screenshots/giam-sat.png."""

import asyncio
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from gateway.pages.monitor import POLL_SECONDS
from tests.browser import launch, require_chromium
from tests.samples import file_dossier, postal_dossier
from tests.test_monitor_page import _make_dossiers, _outbox_trouble

SCREENSHOTS = Path(os.environ.get("MOTCUA_SCREENSHOTS", Path(__file__).parent.parent / "test-artifacts/screenshots"))
DESKTOP = {"width": 1366, "height": 900}


@pytest.fixture
def chromium() -> str:
    return require_chromium()


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


async def _figure(page, name: str) -> str:
    return await page.evaluate(f"document.querySelector('[data-so=\"{name}\"]').textContent")


async def _until(page, expression: str, seconds: float) -> None:
    """Wait until a JavaScript expression is true in the page, for at most `seconds`."""
    async with asyncio.timeout(seconds):
        while not await page.evaluate(expression):  # noqa: ASYNC110 - the page's own script changes it
            await asyncio.sleep(0.2)


async def test_an_operator_signs_in_and_the_page_follows_the_database(
    chromium, client, orgs, db, tmp_path, screenshots
):
    codes = await _make_dossiers(client, orgs, db)
    await _outbox_trouble(db, codes)
    base = str(client.make_url("/"))
    async with launch(tmp_path, executable=chromium) as browser:
        page = await browser.new_page()
        await page.set_viewport(**DESKTOP)
        assert await page.goto(f"{base}giam-sat") == 200  # redirected to the sign-in form
        assert urlsplit(await page.evaluate("location.href")).path == "/giam-sat/dang-nhap"
        await page.fill("#khoa", "mc_000000000000_sai")
        assert await page.click_and_wait("button[type=submit]") == 401
        assert "Khóa truy cập không đúng" in await page.text()
        await page.fill("#khoa", orgs.admin.key)
        assert await page.click_and_wait("button[type=submit]") == 200
        assert urlsplit(await page.evaluate("location.href")).path == "/giam-sat"
        assert await page.evaluate("document.cookie") == ""  # HttpOnly: no script reads the session

        shown = await page.text()
        for words in ("Giám sát vận hành", "Sở Tư pháp thành phố Hà Nội", "Sở Tư pháp thành phố Đà Nẵng", "66,7 %"):
            assert words in shown
        assert await _figure(page, "overdue") == "2" and await _figure(page, "dead") == "1"
        assert codes["a4"] in shown and codes["b2"] in shown
        # Laid out for the screen: nothing wider than it.
        assert await page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]

        # The script runs under the content security policy and polls: its status line says so.
        await _until(page, "document.getElementById('trang-thai-cap-nhat').textContent.includes('tự động')", 5)
        await page.evaluate("window.sameDocument = true")
        first_update = await _figure(page, "updated")

        # Meanwhile a new dossier becomes overdue and another message is dead-lettered.
        late = (await file_dossier(client, orgs.postal, postal_dossier(), "giam-sat-late"))["code"]
        await db.execute("UPDATE dossiers SET appointment_at = now() - interval '5 days' WHERE code = $1", late)
        await db.execute(
            "UPDATE outbox SET status = 'dead', attempts = 3, last_error = 'agency endpoint 503'"
            " WHERE kind = 'agency.deliver' AND dossier_id = (SELECT id FROM dossiers WHERE code = $1)",
            late,
        )
        await _until(
            page,
            "document.querySelector('[data-so=\"overdue\"]').textContent === '3'"
            " && document.querySelector('[data-so=\"dead\"]').textContent === '2'",
            2 * POLL_SECONDS + 2,
        )
        assert await page.evaluate("window.sameDocument") is True  # updated in place, not reloaded
        assert await _figure(page, "updated") != first_update
        rows = await page.evaluate(
            "[...document.querySelectorAll('tbody[data-bang=\"overdue\"] tr')].map(r => r.cells[0].textContent)"
        )
        assert rows == [late, codes["a4"], codes["b2"]]  # the longest overdue first
        dead = await page.evaluate("document.querySelector('tbody[data-bang=\"dead\"]').textContent")
        assert late in dead and "agency endpoint 503" in dead
        numeric = await page.evaluate(
            "getComputedStyle(document.querySelector('tbody[data-bang=\"agencies\"] td.so')).textAlign"
        )
        assert numeric == "right"  # cells the script wrote keep the table's layout

        await page.screenshot(screenshots / "giam-sat.png")
        host = urlsplit(base).netloc
        assert [url for url in page.requested_urls if urlsplit(url).netloc not in (host, "")] == []
        assert page.exceptions == [] and page.console_errors == []

        # Signing out ends the session; the page is the form again.
        assert await page.click_and_wait("form.dang-xuat button") == 200
        assert urlsplit(await page.evaluate("location.href")).path == "/giam-sat/dang-nhap"
        assert await page.goto(f"{base}giam-sat") == 200
        assert "Đăng nhập trang giám sát" in await page.text()
