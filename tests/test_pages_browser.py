"""Integration in headless Chromium (Debian's `chromium`, driven over DevTools by tests/browser.py): the
citizen's /tra-cuu page on a phone, and the printable receipt whose QR code, read back from a screenshot
as a phone camera would, opens the tracking page. Screenshots are kept in test-artifacts/screenshots/."""

import base64
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import zxingcpp
from PIL import Image

from tests.browser import launch, require_chromium
from tests.mailing import MAILED, mail_a_result, tracked_by_pin, until

SCREENSHOTS = Path(os.environ.get("MOTCUA_SCREENSHOTS", Path(__file__).parent.parent / "test-artifacts/screenshots"))
PHONE = {"width": 390, "height": 844, "mobile": True, "scale": 2}
A4_DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def chromium() -> str:
    return require_chromium()


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


async def _delivered(gateway, orgs) -> dict:
    """A dossier whose result went by post and was delivered: the page has everything to show."""
    receipt = await mail_a_result(gateway, orgs, key="browser", body=MAILED)

    async def returned():
        return (await tracked_by_pin(gateway, receipt))["status"] == "returned"

    await until(returned)
    return receipt


async def _only_from(page, base: str) -> None:
    """Nothing was fetched from another host (no CDN, no font service) and no script failed."""
    host = urlsplit(base).netloc
    foreign = [url for url in page.requested_urls if urlsplit(url).netloc not in (host, "")]
    assert foreign == [], foreign
    assert page.exceptions == [] and page.console_errors == []


async def test_a_citizen_follows_the_mailed_result_on_a_phone(chromium, gateway, orgs, tmp_path, screenshots):
    receipt = await _delivered(gateway, orgs)
    base = str(gateway.make_url("/"))
    async with launch(tmp_path, executable=chromium) as browser:
        page = await browser.new_page()
        await page.set_viewport(**PHONE)
        assert await page.goto(f"{base}tra-cuu?ma={receipt['code']}") == 200
        assert await page.evaluate("document.querySelector('#ma').value") == receipt["code"]
        await page.screenshot(screenshots / "tra-cuu-form-dien-thoai.png")

        wrong = "000000" if receipt["tracking_pin"] != "000000" else "111111"
        await page.fill("#pin", wrong)
        assert await page.click_and_wait("button[type=submit]") == 404
        assert "Không tìm thấy hồ sơ" in await page.text()
        await page.screenshot(screenshots / "tra-cuu-sai-pin-dien-thoai.png")

        await page.fill("#pin", receipt["tracking_pin"])
        assert await page.click_and_wait("button[type=submit]") == 200
        shown = await page.text()
        assert receipt["code"] in shown and "Đã trả kết quả" in shown
        assert "Ngày hẹn trả kết quả" in shown
        tracked = await tracked_by_pin(gateway, receipt)
        assert tracked["postal"]["item_code"] in shown and "Đã phát thành công" in shown
        # Laid out for the phone: nothing wider than the screen, text at a readable size.
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert await page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 16
        await page.screenshot(screenshots / "tra-cuu-ho-so-dien-thoai.png")
        await _only_from(page, base)


async def test_the_printed_receipt_has_the_pin_and_a_qr_code_that_opens_the_tracking_page(
    chromium, client, orgs, tmp_path, screenshots
):
    answer = await client.post(
        "/v1/dossiers", json=MAILED, headers={**orgs.postal.auth, "Idempotency-Key": "browser-receipt"}
    )
    receipt = await answer.json()
    base = str(client.make_url("/"))
    async with launch(tmp_path, executable=chromium) as browser:
        page = await browser.new_page()
        await page.set_viewport(**A4_DESKTOP)
        assert await page.goto(base.rstrip("/") + receipt["receipt_url"]) == 200
        shown = await page.text()
        assert receipt["code"] in shown and receipt["tracking_pin"] in shown and "MẪU SỐ 01" in shown.upper()
        # The print button is the page's one script: it ran under the content security policy.
        assert await page.evaluate("document.getElementById('in').hidden") is False
        shot = await page.screenshot(screenshots / "bien-nhan-man-hinh.png")
        await _only_from(page, base)

        # Read the QR code off the screenshot, as a phone camera reads the printout.
        decoded = [result.text for result in zxingcpp.read_barcodes(Image.open(shot))]
        assert decoded == [f"{base}tra-cuu?ma={receipt['code']}"]

        # On paper: no button, and the whole form on one A4 sheet.
        await page.emulate_media("print")
        assert await page.evaluate("getComputedStyle(document.querySelector('.cong-cu')).display") == "none"
        await page.screenshot(screenshots / "bien-nhan-ban-in.png")
        pdf = base64.b64decode((await page.send("Page.printToPDF", {"preferCSSPageSize": True}))["data"])
        (screenshots / "bien-nhan.pdf").write_bytes(pdf)
        assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") == 1
        await page.emulate_media("")

        # The citizen scans it: the tracking page opens with the code filled in; the PIN from the paper.
        assert await page.goto(decoded[0]) == 200
        await page.fill("#pin", receipt["tracking_pin"])
        assert await page.click_and_wait("button[type=submit]") == 200
        assert receipt["code"] in await page.text() and "Đã tiếp nhận" in await page.text()
