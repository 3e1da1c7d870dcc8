"""Integration (real PostgreSQL, real sockets): dossiers filed online on the National Public Service Portal, pushed
by the portal simulator to POST /v1/portal/dossiers, take the intake path of every channel as `online`; their
files are fetched from the portal by the `dvcqg.fetch_document` handler, and then they travel like any other."""

import asyncio
import base64
import copy
import hashlib
import json
import re
import socket
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from structlog.testing import capture_logs

from adapters.dvcqg.simulator import SimulatorConfig, start_portal_simulator
from gateway.app import create_app
from gateway.keys import SERVICES
from gateway.store import outbox
from gateway.workflow.online import DocumentFetchRefused, fetch_document
from tests.conftest import make_org
from tests.samples import pdf

PUSH = "/v1/portal/dossiers"
HANOI, DA_NANG = "000.00.10.H26", "000.00.10.H17"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def portal_form(reference: str = "DVCQG-260115-000042", residence: str = "00004", **changes: Any) -> dict[str, Any]:
    """A citizen's online dossier for 2.000488 in the portal's own form; its one file is made up and held by the
    simulator unless a test gives the document otherwise."""
    form: dict[str, Any] = {
        "MaHoSoQG": reference,
        "MaTTHC": "2.000488",
        "NgayNopHoSo": "20260115201512",
        "ChuHoSo": {
            "SoDinhDanh": "001090123456",
            "HoVaTen": "Nguyễn Văn An",
            "NgaySinh": "19900514",
            "SoDienThoai": "0912345678",
            "NoiCuTru": {"MaXa": residence, "DiaChi": "12 phố Đội Cấn"},
        },
        "TaiLieuNop": [{"MaThanhPhanHoSo": "TK_LLTP", "TenTepDinhKem": "Tờ khai yêu cầu cấp Phiếu lý lịch tư pháp"}],
        "HinhThucNhanKetQua": {"HinhThuc": "0"},
    }
    return form | changes


def push_body(reference: str = "DVCQG-260115-000077", **changes: Any) -> dict[str, Any]:
    """An online dossier as the portal pushes it (vendor/online-push.json's shape), for direct calls."""
    content = pdf(f"tờ khai {reference}")
    body = {
        "portal_reference": reference,
        "procedure_code": "2.000488",
        "applicant": {
            "id_number": "001090123456",
            "full_name": "Nguyễn Văn An",
            "date_of_birth": "1990-05-14",
            "phone": "0912345678",
            "residence": {"unit_code": "00004", "address_line": "12 phố Đội Cấn"},
        },
        "documents": [
            {
                "component_code": "TK_LLTP",
                "name": "Tờ khai",
                "sha256": sha256(content),
                "size": len(content),
                "media_type": "application/pdf",
                "url": f"https://dichvucong.example.gov.vn/tep/{reference}/TK_LLTP.pdf",
            }
        ],
        "return_method": {"type": "counter"},
        "submitted_at": "20260115201512",
    }
    return copy.deepcopy(body) | changes


async def push(client, org, body: Any, key: str | None) -> aiohttp.ClientResponse:
    headers = {**(org.auth if org else {}), "Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await client.post(PUSH, data=json.dumps(body, ensure_ascii=False), headers=headers)


async def problem(answer, status: int, code: str) -> dict[str, Any]:
    text = await answer.text()
    assert answer.status == status, text
    assert answer.content_type == "application/problem+json"
    body = json.loads(text)
    assert body["code"] == code, body
    return body


@pytest.fixture
async def portal(client, orgs) -> AsyncIterator[str]:
    """The portal simulator, pushing to the test gateway with the portal organisation's key; its base URL."""
    config = SimulatorConfig(
        "motcua",
        "motcua-demo",
        "000.00.00.H26",
        gateway_url=str(client.make_url("/")).rstrip("/"),
        gateway_key=orgs.portal.key,
        push_backoff_seconds=0.05,
    )
    runner, url = await start_portal_simulator(config)
    try:
        yield url
    finally:
        await runner.cleanup()


async def control(url: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.request(method, f"{url}{path}", json=body) as answer:
        return answer.status, await answer.json()


async def submit(url: str, form: dict[str, Any]) -> dict[str, Any]:
    """File the form on the portal and wait for its push to the gateway to end; the simulator's record of it."""
    status, answer = await control(url, "POST", "/_simulator/submit_online", form)
    assert status == 202, answer
    deadline = time.monotonic() + 10
    while True:
        pushes = (await control(url, "GET", "/_simulator/submitted"))[1]["submitted"]
        mine = [entry for entry in pushes if entry["portal_reference"] == answer["portal_reference"]]
        if mine and mine[-1]["state"] != "pushing":
            return mine[-1]
        assert time.monotonic() < deadline, pushes
        await asyncio.sleep(0.02)


async def file_downloads(url: str) -> int:
    return (await control(url, "GET", "/_simulator/calls"))[1]["calls"].get("files", 0)


async def fetches(client) -> list[Any]:
    """The pending fetch messages, read as the worker reads them."""
    async with client.app[SERVICES].connection() as conn:
        return await conn.fetch(
            "SELECT * FROM outbox WHERE kind = $1 AND status = 'pending' ORDER BY id", outbox.DVCQG_FETCH_DOCUMENT
        )


async def inbox_codes(client, org) -> list[str]:
    answer = await client.get("/v1/agency/inbox", headers=org.auth)
    assert answer.status == 200, await answer.text()
    return [item["dossier_code"] for item in (await answer.json())["items"]]


@pytest.mark.parametrize(
    ("residence", "agency", "agency_org"), [("00004", HANOI, "agency"), ("20194", DA_NANG, "other_agency")]
)
async def test_an_online_dossier_travels_from_the_portal_to_the_competent_agency(
    client, orgs, db, portal, residence, agency, agency_org
):
    """A dossier the simulator pushes is received as channel online under the competent agency's code, dated as
    at a counter; its file is fetched from the portal, and then it is in that agency's inbox and tracked with
    the PIN."""
    services = client.app[SERVICES]
    pushed = await submit(portal, portal_form(residence=residence))
    assert (pushed["state"], pushed["status"], pushed["attempts"]) == ("delivered", 201, 1)
    receipt = pushed["answer"]
    code = receipt["code"]
    assert re.fullmatch(rf"{re.escape(agency)}-[0-9]{{6}}-0001", code)
    assert (receipt["channel"], receipt["agency"]["identifier"]) == ("online", agency)
    assert receipt["forwarding"] == "awaiting_documents" and receipt["fees"]["collected"] == []
    [document] = pushed["body"]["documents"]
    assert document["url"] == f"{portal}/files/{document['sha256']}"
    assert receipt["upload_urls"] == {document["sha256"]: f"/v1/dossiers/{code}/documents/{document['sha256']}"}

    received = datetime.fromisoformat(receipt["received_at"])
    procedure = services.catalog.procedure("2.000488", received.date())
    expected = services.calendar.appointment(received, procedure.processing, procedure.same_day_cutoff)
    assert datetime.fromisoformat(receipt["appointment_at"]) == expected and not receipt["appointment_estimated"]

    dossier = await db.fetchrow("SELECT id, channel, body FROM dossiers WHERE code = $1", code)
    body = json.loads(dossier["body"])
    assert dossier["channel"] == "online"
    assert body["channel"] == {
        "type": "online",
        "portal_reference": "DVCQG-260115-000042",
        "submitted_at": "2026-01-15T20:15:12+07:00",
    }
    assert body["documents"][0]["url"] == document["url"] and body["fees"] == []
    first = await db.fetchrow("SELECT type, data FROM dossier_events WHERE dossier_id = $1 AND seq = 1", dossier["id"])
    assert first["type"] == "received"
    assert json.loads(first["data"])["portal_reference"] == "DVCQG-260115-000042"
    assert await inbox_codes(client, getattr(orgs, agency_org)) == []  # the file is not here yet

    [message] = await fetches(client)
    assert message["target"] == document["sha256"]
    assert message["payload"] == {
        "code": code,
        "sha256": document["sha256"],
        "url": document["url"],
        "component_code": "TK_LLTP",
        "name": document["name"],
        "media_type": "application/pdf",
        "size": document["size"],
    }
    assert await fetch_document(services, message) is True
    assert await file_downloads(portal) == 1
    assert await fetch_document(services, message) is True  # a second run (a retry after a crash) is a no-op
    assert await file_downloads(portal) == 1
    assert await db.fetchval("SELECT count(*) FROM dossier_events WHERE type = 'document_received'") == 1

    answer = await client.get("/v1/agency/inbox", headers=getattr(orgs, agency_org).auth)
    [item] = (await answer.json())["items"]
    assert item["dossier_code"] == code and item["payload"]["channel"]["type"] == "online"
    assert [doc["sha256"] for doc in item["payload"]["documents"]] == [document["sha256"]]
    downloaded = await client.get(item["payload"]["documents"][0]["href"], headers=getattr(orgs, agency_org).auth)
    assert downloaded.status == 200 and sha256(await downloaded.read()) == document["sha256"]
    other = orgs.other_agency if agency_org == "agency" else orgs.agency
    assert await inbox_codes(client, other) == []

    tracked = await client.get(f"/v1/track/{code}", headers={"X-Tracking-Pin": receipt["tracking_pin"]})
    assert tracked.status == 200, await tracked.text()
    view = await tracked.json()
    assert view["agency"]["identifier"] == agency
    assert [entry["label"] for entry in view["timeline"]][:2] == [
        "Tiếp nhận hồ sơ",
        "Đã nhận bản điện tử thành phần hồ sơ",
    ]
    wrong = await client.get(f"/v1/track/{code}", headers={"X-Tracking-Pin": "000000"})
    assert wrong.status == 404

    # The portal follows what it filed (the 201's Location), as a post office does; not another's dossier.
    own = await client.get(f"/v1/dossiers/{code}", headers=orgs.portal.auth)
    assert own.status == 200 and (await own.json())["code"] == code
    events = await client.get(f"/v1/dossiers/{code}/events", headers=orgs.portal.auth)
    assert events.status == 200
    stranger = await make_org(db, "Cổng dịch vụ công khác", "portal")
    assert (await client.get(f"/v1/dossiers/{code}", headers=stranger.auth)).status == 404


async def test_the_portal_pushing_again_gets_the_same_receipt_and_files_once(client, orgs, db, portal):
    """A second push of the same dossier (same reference, same body) answers the first receipt again: one
    dossier, one fetch; another body under the same reference is refused as a reused key."""
    first = await submit(portal, portal_form())
    again = await submit(portal, portal_form())
    assert (again["state"], again["status"]) == ("delivered", 201)
    assert again["answer"] == first["answer"]
    assert await db.fetchval("SELECT count(*) FROM dossiers") == 1
    assert len(await fetches(client)) == 1

    body = push_body()
    created = await push(client, orgs.portal, body, body["portal_reference"])
    assert created.status == 201 and "Idempotent-Replayed" not in created.headers
    replayed = await push(client, orgs.portal, body, body["portal_reference"])
    assert replayed.status == 201 and replayed.headers["Idempotent-Replayed"] == "true"
    assert await replayed.json() == await created.json()
    changed = push_body(submitted_at="20260115201513")
    await problem(await push(client, orgs.portal, changed, body["portal_reference"]), 422, "idempotency.key_reused")
    assert await db.fetchval("SELECT count(*) FROM dossiers") == 2


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [(None, 401, "auth.missing")] + [(role, 403, "auth.role") for role in ("postal", "counter", "agency", "admin")],
)
async def test_only_the_portal_may_push(client, orgs, db, who, status, code):
    """Post offices, counters, agencies and operators are refused with 403, a caller without a key with 401."""
    body = push_body()
    answer = await push(client, getattr(orgs, who) if who else None, body, body["portal_reference"])
    await problem(answer, status, code)
    assert await db.fetchval("SELECT count(*) FROM dossiers") == 0


async def test_the_portal_cannot_file_through_the_counters_intake(client, orgs, db):
    """POST /v1/dossiers stays for post offices and counters: a portal key there is 403."""
    answer = await client.post("/v1/dossiers", json={}, headers={**orgs.portal.auth, "Idempotency-Key": "x"})
    await problem(answer, 403, "auth.role")


async def test_the_reference_must_be_the_idempotency_key(client, orgs, db):
    """A push whose portal_reference is not its Idempotency-Key is 422 `portal.reference_mismatch`; a push
    without the key is 400 `idempotency.key_missing`. Nothing is stored."""
    body = push_body()
    answer = await push(client, orgs.portal, body, "DVCQG-260115-000078")
    refused = await problem(answer, 422, "portal.reference_mismatch")
    assert refused["errors"][0]["field"] == "portal_reference"
    await problem(await push(client, orgs.portal, body, None), 400, "idempotency.key_missing")
    assert await db.fetchval("SELECT count(*) FROM dossiers") == 0
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys") == 0


def _with_url(url: str) -> dict[str, Any]:
    body = push_body()
    body["documents"][0]["url"] = url
    return body


@pytest.mark.parametrize(
    ("body", "field", "error"),
    [
        (_with_url("ftp://dichvucong.example.gov.vn/TK.pdf"), "documents.0.url", "document.url_scheme"),
        (_with_url("file:///etc/passwd"), "documents.0.url", "document.url_scheme"),
        (_with_url("/tep/TK.pdf"), "documents.0.url", "document.url_scheme"),
        (_with_url("https://"), "documents.0.url", "document.url_scheme"),
        (_with_url("https://example.gov.vn:99999/TK.pdf"), "documents.0.url", "document.url_scheme"),
        (_with_url("https://example.gov.vn/" + "a" * 2000), "documents.0.url", "string_too_long"),
        (push_body(submitted_at="20260231080000"), "submitted_at", "portal.submitted_at"),
        (push_body(submitted_at="2026-01-15T20:15:12"), "submitted_at", "string_pattern_mismatch"),
        (push_body(channel={"type": "counter", "unit_code": "20194"}), "channel", "extra_forbidden"),
        (push_body(fees=[]), "fees", "extra_forbidden"),
    ],
    ids=["ftp", "file", "relative", "no-host", "bad-port", "too-long", "no-such-day", "iso-time", "channel", "fees"],
)
async def test_bad_pushes_are_422_in_vietnamese(client, orgs, db, body, field, error):
    """Only http(s) URLs, a real yyyyMMddHHmmss time, and no channel or fees: anything else is 422 naming the
    field; nothing is stored, nothing queued."""
    answer = await push(client, orgs.portal, body, body["portal_reference"])
    refused = await problem(answer, 422, "validation.failed")
    assert {"field": field, "type": error} in [{"field": e["field"], "type": e["type"]} for e in refused["errors"]]
    assert "Dữ liệu" in refused["detail"]
    assert await db.fetchval("SELECT count(*) FROM dossiers") == 0
    assert await db.fetchval("SELECT count(*) FROM outbox") == 0


def _held_file(content: bytes, **declared: Any) -> dict[str, Any]:
    """A document whose bytes the simulator serves as given, declared as told (MaBam, KichThuoc, LoaiTep)."""
    return {
        "MaThanhPhanHoSo": "TK_LLTP",
        "TenTepDinhKem": "Tờ khai",
        "NoiDung": base64.b64encode(content).decode(),
        **declared,
    }


TK = pdf("tờ khai thật")
OTHER = pdf("một tệp khác")


@pytest.mark.parametrize(
    ("document", "code"),
    [
        (_held_file(TK, MaBam=sha256(OTHER)), "document.digest_mismatch"),
        (_held_file(TK, KichThuoc=len(TK) - 1), "document.too_large"),
        (_held_file(PNG, LoaiTep="application/pdf"), "document.media_type_mismatch"),
        (_held_file(b"GIF89a" + b"\x00" * 20, LoaiTep="image/png"), "document.media_type_unsupported"),
        ("missing", "document.fetch_refused"),
    ],
    ids=["other-hash", "larger-than-declared", "png-declared-pdf", "not-a-document", "404"],
)
async def test_a_file_that_is_not_what_was_declared_is_not_recorded(client, orgs, db, portal, document, code):
    """A file whose bytes do not match the declared hash, size or type, or that the portal does not have, is
    refused by the fetch (the reason in the error the worker keeps, and logged); nothing is recorded and the
    dossier keeps waiting for it, until the portal PUTs the right file itself."""
    if document == "missing":
        declared = sha256(OTHER)
        document = {
            "MaThanhPhanHoSo": "TK_LLTP",
            "TenTepDinhKem": "Tờ khai",
            "MaBam": declared,
            "KichThuoc": len(OTHER),
            "LoaiTep": "application/pdf",
            "DuongDanTaiTepTin": f"{portal}/files/{'0' * 64}",
        }
    pushed = await submit(portal, portal_form(TaiLieuNop=[document]))
    assert pushed["status"] == 201, pushed
    receipt = pushed["answer"]
    [message] = await fetches(client)
    with capture_logs() as logs, pytest.raises(DocumentFetchRefused) as refused:
        await fetch_document(client.app[SERVICES], message)
    assert refused.value.code == code and str(refused.value).startswith(f"{code}: ")
    assert {"event": "online.fetch_refused", "error": code} in [
        {"event": entry["event"], "error": entry.get("error")} for entry in logs
    ]
    assert await db.fetchval("SELECT count(*) FROM dossier_documents") == 0
    assert await db.fetchval("SELECT count(*) FROM dossier_events WHERE type = 'document_received'") == 0
    listed = await (await client.get(f"/v1/dossiers/{receipt['code']}/documents", headers=orgs.admin.auth)).json()
    assert listed["items"] == [] and [item["code"] for item in listed["missing_components"]] == ["TK_LLTP"]
    assert await inbox_codes(client, orgs.agency) == []
    assert [row["status"] for row in await fetches(client)] == ["pending"]  # the worker retries it

    [(declared, path)] = receipt["upload_urls"].items()
    if declared == sha256(OTHER):  # the portal sends the file it declared itself
        headers = {**orgs.portal.auth, "Content-Type": "application/pdf"}
        uploaded = await client.put(path, data=OTHER, headers=headers)
        assert uploaded.status == 201, await uploaded.text()
        assert (await uploaded.json())["forwarding"] == "queued"
        assert await inbox_codes(client, orgs.agency) == [receipt["code"]]
        downloads = await file_downloads(portal)
        assert await fetch_document(client.app[SERVICES], message) is True  # now there: nothing to fetch
        assert await file_downloads(portal) == downloads


async def test_a_portal_that_does_not_answer_is_tried_again_later(client, orgs, db, portal):
    """A file URL whose server cannot be reached (or answers 5xx) is a retry, not a refusal: the handler
    answers False and records nothing."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    content = pdf("tờ khai")
    document = {
        "MaThanhPhanHoSo": "TK_LLTP",
        "TenTepDinhKem": "Tờ khai",
        "MaBam": sha256(content),
        "KichThuoc": len(content),
        "LoaiTep": "application/pdf",
        "DuongDanTaiTepTin": f"http://127.0.0.1:{closed_port}/tep/TK_LLTP.pdf",
    }
    pushed = await submit(portal, portal_form(TaiLieuNop=[document]))
    assert pushed["status"] == 201, pushed
    [message] = await fetches(client)
    assert await fetch_document(client.app[SERVICES], message) is False
    assert await db.fetchval("SELECT count(*) FROM dossier_documents") == 0


async def test_only_the_submitting_portal_may_put_its_files(client, orgs, db):
    """The portal uploads the files of its own dossiers; another portal organisation gets 404, as for any
    dossier it did not file."""
    body = push_body()
    receipt = await (await push(client, orgs.portal, body, body["portal_reference"])).json()
    [(_, path)] = receipt["upload_urls"].items()
    content = pdf(f"tờ khai {body['portal_reference']}")
    stranger = await make_org(db, "Cổng dịch vụ công khác", "portal")
    refused = await client.put(path, data=content, headers={**stranger.auth, "Content-Type": "application/pdf"})
    await problem(refused, 404, "dossier.not_found")
    accepted = await client.put(path, data=content, headers={**orgs.portal.auth, "Content-Type": "application/pdf"})
    assert accepted.status == 201, await accepted.text()
    assert await inbox_codes(client, orgs.agency) == [receipt["code"]]


async def test_files_come_only_from_the_allowed_hosts_and_redirects_are_not_followed(
    aiohttp_client, aiohttp_server, settings, orgs, db
):
    """With the portal at one host, a pushed file on another host is refused at intake (422); a host dropped
    from the list after intake is refused at fetch time; a redirect is not followed (it could leave the list)."""

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://10.0.0.1/internal")

    files = web.Application()
    files.router.add_get("/tep/{name}", moved)
    server = await aiohttp_server(files)
    configured = settings.model_copy(update={"dvcqg_url": f"http://127.0.0.1:{server.port}"})
    client = await aiohttp_client(create_app(configured))
    elsewhere = push_body("DVCQG-260115-000091")
    elsewhere["documents"][0]["url"] = "http://169.254.169.254/latest/meta-data"
    refused = await push(client, orgs.portal, elsewhere, elsewhere["portal_reference"])
    body = await problem(refused, 422, "document.url_host")
    assert body["errors"][0]["field"] == "documents.0.url"

    redirected = push_body("DVCQG-260115-000092")
    redirected["documents"][0]["url"] = f"http://127.0.0.1:{server.port}/tep/TK.pdf"
    answer = await push(client, orgs.portal, redirected, redirected["portal_reference"])
    assert answer.status == 201, await answer.text()
    [message] = await fetches(client)
    with pytest.raises(DocumentFetchRefused) as refusal:
        await fetch_document(client.app[SERVICES], message)
    assert refusal.value.code == "document.fetch_refused"  # the 302, not followed

    narrowed = configured.model_copy(update={"dvcqg_file_hosts": ["files.dichvucong.gov.vn"]})
    later = await aiohttp_client(create_app(narrowed))
    with pytest.raises(DocumentFetchRefused) as refusal:
        await fetch_document(later.app[SERVICES], message)
    assert refusal.value.code == "document.url_host"
    assert await db.fetchval("SELECT count(*) FROM dossier_documents") == 0
