"""Integration (real PostgreSQL, the gateway on a real socket): the citizen's /tra-cuu page and the printable
receipt (form 01) over HTTP. What they look like in a browser is in test_pages_browser.py."""

import html
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.fernet import Fernet

from gateway.app import create_app
from gateway.keys import SERVICES
from gateway.pages.render import POLICY, vnd, when
from tests.samples import counter_dossier, file_dossier, pdf, postal_dossier, sha256

PAGE = "/tra-cuu"


def _text(page: str) -> str:
    """The page's visible words, tags dropped and entities decoded, for asserting what a reader sees."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


async def _look_up(client, code: str, pin: str):
    return await client.post(PAGE, data={"ma": code, "pin": pin})


async def test_the_form_is_a_vietnamese_page_that_loads_nothing_from_elsewhere(client):
    answer = await client.get(PAGE, params={"ma": "000.00.10.H26-261122-0001"})
    page = await answer.text()
    assert answer.status == 200 and answer.content_type == "text/html"
    assert answer.headers["Content-Security-Policy"] == POLICY and "default-src 'none'" in POLICY
    assert answer.headers["Cache-Control"] == "no-store"
    assert '<html lang="vi">' in page and 'name="viewport"' in page
    assert 'value="000.00.10.H26-261122-0001"' in page  # the QR code's ?ma= fills the code in
    assert "Mã tra cứu (PIN)" in page
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(source.startswith("/") for source in sources), sources
    style = await client.get("/tai-nguyen/motcua.css")
    assert style.status == 200 and style.content_type == "text/css"
    assert (await client.get("/tai-nguyen/khong-co.css")).status == 404


async def test_what_is_typed_into_the_code_is_escaped(client):
    answer = await client.get(PAGE, params={"ma": '"><script>alert(1)</script>'})
    page = await answer.text()
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page


async def test_code_and_pin_show_the_dossier_without_personal_data(client, orgs):
    receipt = await file_dossier(client, orgs.postal, postal_dossier(), "page-1")
    code = receipt["code"]
    await client.post(f"/v1/agency/dossiers/{code}/events", json={"type": "accepted"}, headers=orgs.agency.auth)
    # Typed as people do: lower case, spaces around, the PIN in groups.
    pin = receipt["tracking_pin"]
    answer = await _look_up(client, f"  {code.lower()} ", f"{pin[:3]} {pin[3:]}")
    page = await answer.text()
    assert answer.status == 200, page
    shown = _text(page)
    assert code in shown and "Cấp Phiếu lý lịch tư pháp" in shown
    assert "Sở Tư pháp" in shown
    assert when(receipt["appointment_at"]) in shown and re.search(r"\d\d:\d\d ngày \d\d/\d\d/20\d\d", shown)
    assert "Đang giải quyết" in shown  # the status after the agency accepted it
    assert "Quá trình giải quyết" in shown
    assert "001090123456" not in page and "0912345678" not in page and "Nguyễn Văn An" not in page


async def test_wrong_pin_unknown_code_and_empty_fields_answer_the_form_again(client, orgs):
    receipt = await file_dossier(client, orgs.postal, postal_dossier(), "page-2")
    wrong = "000000" if receipt["tracking_pin"] != "000000" else "111111"
    for code, pin, status in (
        (receipt["code"], wrong, 404),
        ("000.00.10.H26-991231-9999", receipt["tracking_pin"], 404),
        (receipt["code"], "", 400),
    ):
        answer = await _look_up(client, code, pin)
        page = await answer.text()
        assert answer.status == status and answer.content_type == "text/html", (code, pin)
        assert 'role="alert"' in page and "<form" in page
        assert f'value="{code.upper()}"' in page  # what was typed stays; the PIN does not
        assert ("Không tìm thấy hồ sơ" in _text(page)) == (status == 404)


@pytest.fixture
async def strict_client(aiohttp_client, settings):
    return await aiohttp_client(create_app(settings.model_copy(update={"tracking_max_failures": 3})))


async def test_the_page_and_the_api_share_the_wrong_pin_limit(strict_client, orgs):
    """Guesses on the page count with guesses on the API: no way around the limit through the page."""
    receipt = await file_dossier(strict_client, orgs.postal, postal_dossier(), "page-3")
    code, pin = receipt["code"], receipt["tracking_pin"]
    wrong = "000000" if pin != "000000" else "111111"
    assert (await _look_up(strict_client, code, wrong)).status == 404
    assert (await _look_up(strict_client, code, wrong)).status == 404
    assert (await strict_client.get(f"/v1/track/{code}", headers={"X-Tracking-Pin": wrong})).status == 404
    locked = await _look_up(strict_client, code, pin)
    assert locked.status == 429 and "Retry-After" in locked.headers
    assert "quá nhiều lần" in await locked.text()


async def test_an_electronic_result_downloads_from_the_page(client, orgs):
    receipt = await file_dossier(client, orgs.postal, postal_dossier(), "page-4")
    code, pin = receipt["code"], receipt["tracking_pin"]
    event = f"/v1/agency/dossiers/{code}/events"
    await client.post(event, json={"type": "accepted"}, headers=orgs.agency.auth)
    result = pdf("Phiếu lý lịch tư pháp số 7")
    await client.put(
        f"/v1/agency/dossiers/{code}/results/{sha256(result)}",
        data=result,
        params={"name": "Phiếu LLTP số 7"},
        headers={**orgs.agency.auth, "Content-Type": "application/pdf"},
    )
    await client.post(event, json={"type": "result_ready"}, headers=orgs.agency.auth)
    page = await (await _look_up(client, code, pin)).text()
    assert "Phiếu LLTP số 7" in page and f'value="{sha256(result)}"' in page and "Tải về" in page
    download = await client.post(f"{PAGE}/ket-qua", data={"ma": code, "pin": pin, "sha256": sha256(result)})
    assert download.status == 200 and await download.read() == result
    assert download.headers["Content-Disposition"].startswith("attachment;")
    refused = await client.post(f"{PAGE}/ket-qua", data={"ma": code, "pin": "x", "sha256": sha256(result)})
    assert refused.status == 404 and refused.content_type == "text/html"
    missing = await client.post(f"{PAGE}/ket-qua", data={"ma": code, "pin": pin, "sha256": "0" * 64})
    assert missing.status == 404 and "document.not_found" in await missing.text()


async def test_the_intake_answer_links_a_printable_receipt_with_the_pin(client, orgs):
    body = postal_dossier(
        return_method={
            "type": "postal",
            "recipient_name": "Trần Thị Bình",
            "phone": "0987654321",
            "address": {"unit_code": "20194", "address_line": "45 Nguyễn Văn Cừ"},
        }
    )
    receipt = await file_dossier(client, orgs.postal, body, "page-5")
    code = receipt["code"]
    assert receipt["tracking_page"] == f"{PAGE}?ma={code}"
    answer = await client.get(receipt["receipt_url"])
    page = await answer.text()
    assert answer.status == 200, page
    shown = _text(page)
    for expected in (
        "Mẫu số 01",
        "Giấy tiếp nhận hồ sơ và hẹn trả kết quả",
        code,
        receipt["tracking_pin"],
        "Nguyễn Văn An",
        "12 phố Đội Cấn",
        "0912345678",
        "Cấp Phiếu lý lịch tư pháp",
        "Tờ khai",
        when(receipt["received_at"]),
        when(receipt["appointment_at"]),
        "Ngày hẹn dự kiến",  # postal intake: the clock starts when the agency has the paper dossier
        "EE123456785VN",
        "bưu cục 100000",
        "Trần Thị Bình, 45 Nguyễn Văn Cừ",
        "biên lai số BL-1",
        vnd(200000),
        "Người tiếp nhận hồ sơ",
    ):
        assert expected in shown, expected
    assert f"{PAGE}?ma={code}" in shown and f"http://{client.server.host}:{client.server.port}" in shown
    assert "<svg" in page and 'class="segno"' in page  # the QR code, inline: no image request
    # Kept for the submitter: the receipt without its PIN or the link that seals it.
    stored = await (await client.get(f"/v1/dossiers/{code}", headers=orgs.postal.auth)).json()
    assert "tracking_pin" not in stored["receipt"] and "receipt_url" not in stored["receipt"]


async def test_a_replayed_intake_answers_the_same_receipt_link(client, orgs):
    headers = {**orgs.counter.auth, "Idempotency-Key": "page-6"}
    first = await (await client.post("/v1/dossiers", json=counter_dossier(), headers=headers)).json()
    again = await (await client.post("/v1/dossiers", json=counter_dossier(), headers=headers)).json()
    assert again["receipt_url"] == first["receipt_url"]
    page = _text(await (await client.get(first["receipt_url"])).text())
    assert "Bộ phận Một cửa nơi nộp hồ sơ" in page and "Ngày hẹn dự kiến" not in page


async def test_forged_foreign_and_expired_receipt_links_are_refused(client, orgs):
    first = await file_dossier(client, orgs.postal, postal_dossier(), "page-7")
    second = await file_dossier(client, orgs.postal, postal_dossier(), "page-8")
    token = parse_qs(urlsplit(first["receipt_url"]).query)["t"][0]
    services = client.app[SERVICES]
    hours = services.settings.receipt_link_hours
    expired = services.receipt_links.seal(
        f'{{"code": "{first["code"]}", "pin": "{first["tracking_pin"]}"}}'.encode(),
        at=int(time.time()) - hours * 3600 - 60,
    ).decode()
    foreign_key = Fernet(Fernet.generate_key()).encrypt(b'{"code": "x", "pin": "1"}').decode()
    for name, path in {
        "damaged": f"/bien-nhan/{first['code']}?t={token[:-4]}AAAA",
        "another dossier's link": f"/bien-nhan/{second['code']}?t={token}",
        "expired": f"/bien-nhan/{first['code']}?t={expired}",
        "another key": f"/bien-nhan/{first['code']}?t={foreign_key}",
        "no token": f"/bien-nhan/{first['code']}",
    }.items():
        answer = await client.get(path)
        page = await answer.text()
        assert answer.status == 404 and answer.content_type == "text/html", name
        assert "receipt.link_invalid" in page and first["tracking_pin"] not in page, name


async def test_the_public_address_setting_names_the_tracking_page_in_the_qr_code(aiohttp_client, settings, orgs):
    configured = settings.model_copy(update={"public_url": "https://motcua.example.gov.vn/"})
    client = await aiohttp_client(create_app(configured))
    receipt = await file_dossier(client, orgs.postal, postal_dossier(), "page-9")
    page = _text(await (await client.get(receipt["receipt_url"])).text())
    assert f"https://motcua.example.gov.vn/tra-cuu?ma={receipt['code']}" in page


async def test_only_the_forms_own_encoding_is_read(client):
    """A form posted as multipart (even without a boundary, as fuzzers send) or as JSON is 415, never a 500."""
    for content_type, body in (("multipart/form-data", b"ma=&pin="), ("application/json", b'{"ma": "x"}')):
        for path in (PAGE, f"{PAGE}/ket-qua"):
            answer = await client.post(path, data=body, headers={"Content-Type": content_type})
            assert answer.status == 415 and answer.content_type == "text/html", (path, content_type)
            assert "form.media_type" in await answer.text()
