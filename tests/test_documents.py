"""Integration (real PostgreSQL, real HTTP): dossier documents. Streamed uploads checked by hash, by content
type and by size, stored once per content; downloads by role with ranges, each recorded; results uploaded by
the agency and shown to the citizen; forwarding held until the required files are here; retention purge."""

import asyncio
import hashlib
import json
import os
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import mapping
from gateway.app import create_app
from gateway.content import LocalContentStore
from gateway.keys import SERVICES
from gateway.workflow.retention import purge
from tests.samples import SHA, TO_KHAI, document, pdf, postal_dossier, sha256, upload_documents

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


async def _file(client, orgs, key="k", body=None, org=None) -> dict:
    org = org or orgs.postal
    answer = await client.post(
        "/v1/dossiers", json=body or postal_dossier(), headers={**org.auth, "Idempotency-Key": key}
    )
    assert answer.status == 201, await answer.text()
    return await answer.json()


async def _put(client, org, code, content: bytes, sha: str | None = None, media="application/pdf", **query):
    return await client.put(
        f"/v1/dossiers/{code}/documents/{sha or sha256(content)}",
        data=content,
        params=query,
        headers={**org.auth, "Content-Type": media},
    )


async def _problem(answer, status: int, code: str) -> dict:
    body = await answer.json()
    assert (answer.status, body["code"]) == (status, code), body
    return body


def _stored_files(client) -> list[str]:
    root = client.app[SERVICES].settings.content_dir
    return sorted(path.name for path in root.rglob("*") if path.is_file())


async def _nothing_recorded(client, db, code) -> None:
    assert _stored_files(client) == []  # not in the store, not half-written in its temporary area
    assert await db.fetchval("SELECT count(*) FROM contents") == 0
    assert await db.fetchval("SELECT count(*) FROM dossier_documents") == 0
    events = await db.fetch(
        "SELECT e.type FROM dossier_events e JOIN dossiers d ON d.id = e.dossier_id WHERE d.code = $1", code
    )
    assert [e["type"] for e in events] == ["received"]


async def _inbox_codes(client, org) -> list[str]:
    answer = await client.get("/v1/agency/inbox", headers=org.auth)
    return [item["dossier_code"] for item in (await answer.json())["items"]]


# --- Completeness gates forwarding --------------------------------------------------------------------------


async def test_a_dossier_is_forwarded_once_its_required_files_are_here(client, orgs, db):
    body = postal_dossier(documents=[document("TK_LLTP", "Tờ khai"), document("UQ", "Giấy ủy quyền")])
    receipt = await _file(client, orgs, body=body)
    code = receipt["code"]
    assert receipt["forwarding"] == "awaiting_documents"
    assert receipt["missing_components"] == [{"code": "TK_LLTP", "name": "Tờ khai yêu cầu cấp Phiếu lý lịch tư pháp"}]
    assert set(receipt["upload_urls"]) == {doc["sha256"] for doc in body["documents"]}
    assert await _inbox_codes(client, orgs.agency) == []
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE kind = 'agency.deliver'") == 0

    optional = body["documents"][1]
    answer = await _put(client, orgs.postal, code, pdf("Giấy ủy quyền"), optional["sha256"])
    uploaded = await answer.json()
    assert answer.status == 201 and uploaded["forwarding"] == "awaiting_documents"  # optional: still held
    assert await _inbox_codes(client, orgs.agency) == []

    required = body["documents"][0]
    answer = await _put(client, orgs.postal, code, pdf("Tờ khai"), required["sha256"])
    uploaded = await answer.json()
    assert answer.status == 201, uploaded
    assert (uploaded["forwarding"], uploaded["missing_components"]) == ("queued", [])
    assert uploaded["documents"][0]["component_code"] == "TK_LLTP"

    inbox = await (await client.get("/v1/agency/inbox", headers=orgs.agency.auth)).json()
    (message,) = inbox["items"]
    listed = {doc["component_code"]: doc for doc in message["payload"]["documents"]}
    assert set(listed) == {"TK_LLTP", "UQ"}
    assert listed["TK_LLTP"]["sha256"] == required["sha256"]
    assert listed["TK_LLTP"]["href"] == f"/v1/dossiers/{code}/documents/{required['sha256']}"
    events = await (await client.get(f"/v1/dossiers/{code}/events", headers=orgs.postal.auth)).json()
    arrivals = [(e["type"], e["data"].get("component_code")) for e in events["items"]]
    assert arrivals == [("received", None), ("document_received", "UQ"), ("document_received", "TK_LLTP")]
    assert (
        events["items"][1]["data"]["missing_components"] != []
        and events["items"][2]["data"]["missing_components"] == []
    )


async def test_a_file_not_declared_at_intake_names_its_component(client, orgs):
    code = (await _file(client, orgs))["code"]
    content = pdf("Ủy quyền bổ sung")
    await _problem(await _put(client, orgs.postal, code, content), 422, "document.component_required")
    await _problem(
        await _put(client, orgs.postal, code, content, component_code="GKS", name="Giấy khai sinh"),
        422,
        "document.unknown_component",
    )
    answer = await _put(client, orgs.postal, code, content, component_code="UQ", name="Ủy quyền")
    assert answer.status == 201, await answer.text()


async def test_one_scan_declared_as_two_components_serves_both(client, orgs):
    both = document("TK_LLTP", "Tờ khai và ủy quyền")
    body = postal_dossier(documents=[both, both | {"component_code": "UQ"}])
    receipt = await _file(client, orgs, body=body)
    answer = await _put(client, orgs.postal, receipt["code"], pdf("Tờ khai và ủy quyền"))
    uploaded = await answer.json()
    assert answer.status == 201, uploaded
    assert sorted(doc["component_code"] for doc in uploaded["documents"]) == ["TK_LLTP", "UQ"]


# --- What an upload must be ------------------------------------------------------------------------------------


async def test_a_hash_mismatch_is_refused_and_leaves_nothing(client, orgs, db):
    code = (await _file(client, orgs))["code"]
    tampered = TO_KHAI + b"% one more line\n"
    body = await _problem(await _put(client, orgs.postal, code, tampered, SHA), 422, "document.digest_mismatch")
    assert sha256(tampered) in body["errors"][0]["message"]
    await _nothing_recorded(client, db, code)


@pytest.mark.parametrize(
    ("content", "status", "problem"),
    [
        (PNG, 422, "document.media_type_mismatch"),  # a PNG sent as the declared PDF
        (b"PK\x03\x04 a zip file named to-khai.pdf", 415, "document.media_type_unsupported"),
        (b"<html><body>to khai</body></html>", 415, "document.media_type_unsupported"),
    ],
    ids=["png-declared-pdf", "zip", "html"],
)
async def test_the_media_type_is_checked_on_the_bytes(client, orgs, db, content, status, problem):
    declared = document("TK_LLTP") | {"sha256": sha256(content), "size": len(content)}
    code = (await _file(client, orgs, body=postal_dossier(documents=[declared])))["code"]
    await _problem(await _put(client, orgs.postal, code, content, media="application/pdf"), status, problem)
    await _nothing_recorded(client, db, code)


async def test_the_type_comes_from_the_bytes_not_the_client(client, orgs, db):
    code = (await _file(client, orgs))["code"]
    answer = await _put(
        client, orgs.postal, code, JPEG, media="application/octet-stream", component_code="UQ", name="a.pdf"
    )
    assert answer.status == 201, await answer.text()
    assert (await answer.json())["documents"][0]["media_type"] == "image/jpeg"
    await _problem(
        await _put(client, orgs.postal, code, PNG, media="image/jpeg", component_code="UQ", name="b.png"),
        422,
        "document.media_type_mismatch",
    )


@pytest.fixture
async def small_limits(aiohttp_client, settings):
    limited = settings.model_copy(update={"document_max_bytes": 4096, "dossier_documents_max_bytes": 6000})
    return await aiohttp_client(create_app(limited))


async def test_an_oversize_file_is_refused_declared_or_streamed(small_limits, orgs, db):
    client = small_limits
    big = pdf("x" * 5000)
    code = (
        await _file(client, orgs, body=postal_dossier(documents=[document("TK_LLTP", "x" * 5000, name="Tờ khai")]))
    )["code"]
    await _problem(await _put(client, orgs.postal, code, big), 413, "document.too_large")  # by Content-Length

    async def chunks():  # no Content-Length: the limit bites while streaming
        for start in range(0, len(big), 1000):
            yield big[start : start + 1000]

    answer = await client.put(
        f"/v1/dossiers/{code}/documents/{sha256(big)}", data=chunks(), headers={**orgs.postal.auth}
    )
    await _problem(answer, 413, "document.too_large")
    await _nothing_recorded(client, db, code)


async def test_a_dossier_has_a_total_limit(small_limits, orgs, db):
    client = small_limits
    first, second = pdf("a" * 3000), pdf("b" * 3000)
    code = (await _file(client, orgs))["code"]
    assert (await _put(client, orgs.postal, code, first, component_code="UQ", name="1")).status == 201
    await _problem(
        await _put(client, orgs.postal, code, second, component_code="UQ", name="2"), 413, "document.dossier_too_large"
    )
    assert await db.fetchval("SELECT count(*) FROM dossier_documents") == 1


async def test_an_upload_cut_off_midway_leaves_nothing(client, orgs, db):
    """The client dies after half the body: the temporary file goes, nothing reaches the store or the database."""
    code = (await _file(client, orgs))["code"]
    content = pdf("y" * 200_000)
    _, writer = await asyncio.open_connection(client.server.host, client.server.port)
    head = (
        f"PUT /v1/dossiers/{code}/documents/{sha256(content)}?component_code=UQ&name=cut HTTP/1.1\r\n"
        f"Host: x\r\nAuthorization: Bearer {orgs.postal.key}\r\nContent-Type: application/pdf\r\n"
        f"Content-Length: {len(content)}\r\n\r\n"
    )
    writer.write(head.encode() + content[: len(content) // 2])
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.close()
    await writer.wait_closed()
    incoming = client.app[SERVICES].settings.content_dir / ".incoming"
    async with asyncio.timeout(5):
        while any(incoming.iterdir()):  # noqa: ASYNC110 - the server notices the lost peer on its own
            await asyncio.sleep(0.05)
    await _nothing_recorded(client, db, code)


async def test_a_large_upload_streams_in_bounded_memory(aiohttp_client, settings, orgs, db):
    """64 MiB through the real HTTP stack while tracemalloc watches this process (client and server both):
    the peak stays a small fraction of the file, because nothing holds the file whole."""
    size, chunk = 64 << 20, 256 << 10
    block = b"%PDF-1.7\n" + os.urandom(chunk - 9)
    filler = os.urandom(chunk)

    def blocks():
        yield block
        for _ in range(size // chunk - 1):
            yield filler

    digest = hashlib.sha256()
    for piece in blocks():
        digest.update(piece)
    content_sha = digest.hexdigest()
    roomy = settings.model_copy(update={"document_max_bytes": size, "dossier_documents_max_bytes": size})
    client = await aiohttp_client(create_app(roomy))
    declared = {
        "component_code": "TK_LLTP",
        "name": "Bản quét lớn",
        "sha256": content_sha,
        "size": size,
        "media_type": "application/pdf",
    }
    code = (await _file(client, orgs, body=postal_dossier(documents=[declared])))["code"]

    async def body():
        for piece in blocks():
            yield piece

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        answer = await client.put(
            f"/v1/dossiers/{code}/documents/{content_sha}",
            data=body(),
            headers={**orgs.postal.auth, "Content-Type": "application/pdf"},
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert answer.status == 201, await answer.text()
    print(f"uploaded {size >> 20} MiB, peak traced memory {peak / (1 << 20):.1f} MiB")
    assert peak < 8 << 20  # the file is 64 MiB
    stored = client.app[SERVICES].settings.content_dir / content_sha[:2] / content_sha[2:4] / content_sha
    assert stored.stat().st_size == size


# --- Stored once ---------------------------------------------------------------------------------------------------


async def test_the_same_content_is_stored_once(client, orgs, db):
    first = (await _file(client, orgs, key="a"))["code"]
    second = (await _file(client, orgs, key="b"))["code"]
    assert (await _put(client, orgs.postal, first, TO_KHAI)).status == 201
    again = await _put(client, orgs.postal, first, TO_KHAI)
    assert again.status == 200  # the same file again: same answer, nothing new recorded
    assert (await _put(client, orgs.postal, second, TO_KHAI)).status == 201
    assert _stored_files(client) == [SHA]
    assert await db.fetchval("SELECT count(*) FROM contents") == 1
    assert await db.fetchval("SELECT count(*) FROM dossier_documents") == 2
    assert await db.fetchval("SELECT count(*) FROM dossier_events WHERE type = 'document_received'") == 2


async def test_knowing_a_hash_is_not_enough_to_link_someone_elses_file(client, orgs):
    """The content is in the store for another dossier; a client that only knows its hash must still send the
    bytes (a declaration alone never links it), so it cannot read what it never had."""
    mine = await _file(client, orgs, key="mine")
    await upload_documents(client, orgs.postal, mine)
    theirs = await _file(client, orgs, key="theirs", org=orgs.other_postal)
    assert theirs["forwarding"] == "awaiting_documents"
    download = await client.get(f"/v1/dossiers/{theirs['code']}/documents/{SHA}", headers=orgs.other_postal.auth)
    await _problem(download, 404, "document.not_found")


# --- Downloads -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("postal", 200),  # the submitter
        ("agency", 200),  # the agency the dossier is routed to
        ("other_postal", 404),
        ("counter", 404),
        ("other_agency", 404),
        ("admin", 403),  # operators see the list, not the content
        ("portal", 403),
        (None, 401),
    ],
)
async def test_who_may_download(client, orgs, db, who, status):
    receipt = await _file(client, orgs)
    await upload_documents(client, orgs.postal, receipt)
    headers = getattr(orgs, who).auth if who else {}
    answer = await client.get(f"/v1/dossiers/{receipt['code']}/documents/{SHA}", headers=headers)
    assert answer.status == status, await answer.text()
    if status == 200:
        assert await answer.read() == TO_KHAI
        assert answer.headers["ETag"] == f'"{SHA}"' and answer.headers["Accept-Ranges"] == "bytes"
        assert answer.content_type == "application/pdf"
        downloader = getattr(orgs, who).id
        assert await db.fetchval("SELECT organisation_id FROM document_downloads") == downloader
    else:
        assert await db.fetchval("SELECT count(*) FROM document_downloads") == 0


async def test_range_requests(client, orgs, db):
    receipt = await _file(client, orgs)
    await upload_documents(client, orgs.postal, receipt)
    url = f"/v1/dossiers/{receipt['code']}/documents/{SHA}"
    size = len(TO_KHAI)

    async def get(range_header: str, **headers):
        return await client.get(url, headers={**orgs.agency.auth, "Range": range_header, **headers})

    first = await get("bytes=0-9")
    assert (first.status, await first.read()) == (206, TO_KHAI[:10])
    assert first.headers["Content-Range"] == f"bytes 0-9/{size}"
    tail = await get("bytes=-5")
    assert (tail.status, await tail.read(), tail.headers["Content-Range"]) == (
        206,
        TO_KHAI[-5:],
        f"bytes {size - 5}-{size - 1}/{size}",
    )
    rest = await get(f"bytes={size - 3}-")
    assert (rest.status, await rest.read()) == (206, TO_KHAI[-3:])
    past = await get(f"bytes={size}-")
    assert past.status == 416 and past.headers["Content-Range"] == f"bytes */{size}"
    assert (await past.json())["code"] == "document.range_not_satisfiable"
    several = await get("bytes=0-1,4-5")
    assert (several.status, await several.read()) == (200, TO_KHAI)
    changed = await get("bytes=0-9", **{"If-Range": '"another"'})
    assert (changed.status, await changed.read()) == (200, TO_KHAI)
    same = await get("bytes=0-9", **{"If-Range": f'"{SHA}"'})
    assert same.status == 206
    recorded = await db.fetch("SELECT range_start, range_end FROM document_downloads ORDER BY id")
    assert [tuple(r) for r in recorded] == [
        (0, 9),
        (size - 5, size - 1),
        (size - 3, size - 1),
        (0, size - 1),
        (0, size - 1),
        (0, 9),
    ]


async def test_the_list_shows_components_and_results_to_whoever_sees_the_dossier(client, orgs):
    receipt = await _file(client, orgs)
    await upload_documents(client, orgs.postal, receipt)
    for org in (orgs.postal, orgs.agency, orgs.admin):
        listing = await (await client.get(f"/v1/dossiers/{receipt['code']}/documents", headers=org.auth)).json()
        assert [(d["kind"], d["sha256"]) for d in listing["items"]] == [("component", SHA)]
        assert listing["missing_components"] == []
    hidden = await client.get(f"/v1/dossiers/{receipt['code']}/documents", headers=orgs.other_agency.auth)
    assert hidden.status == 404


# --- Results -------------------------------------------------------------------------------------------------------


async def _to_processing(client, orgs, body=None, key="k") -> dict:
    receipt = await _file(client, orgs, body=body, key=key)
    await upload_documents(client, orgs.postal, receipt)
    answer = await client.post(
        f"/v1/agency/dossiers/{receipt['code']}/events", json={"type": "accepted"}, headers=orgs.agency.auth
    )
    assert answer.status == 201, await answer.text()
    return receipt


async def _put_result(client, org, code, content: bytes, name="Phiếu lý lịch tư pháp số 1"):
    return await client.put(
        f"/v1/agency/dossiers/{code}/results/{sha256(content)}",
        data=content,
        params={"name": name},
        headers={**org.auth, "Content-Type": "application/pdf"},
    )


async def test_the_agency_uploads_results_and_the_citizen_downloads_them_with_the_pin(client, orgs, db):
    receipt = await _to_processing(client, orgs)
    code, pin = receipt["code"], receipt["tracking_pin"]
    result = pdf("Phiếu lý lịch tư pháp số 1")
    answer = await _put_result(client, orgs.agency, code, result)
    assert answer.status == 201, await answer.text()
    assert (await _put_result(client, orgs.other_agency, code, result)).status == 404
    ready = await client.post(
        f"/v1/agency/dossiers/{code}/events", json={"type": "result_ready"}, headers=orgs.agency.auth
    )
    event = await ready.json()
    assert [d["sha256"] for d in event["data"]["documents"]] == [sha256(result)]
    await _problem(await _put_result(client, orgs.agency, code, pdf("late")), 409, "document.step_closed")

    tracked = await (await client.get(f"/v1/track/{code}", headers={"X-Tracking-Pin": pin})).json()
    (shown,) = tracked["results"]
    assert (shown["name"], shown["sha256"], shown["size"]) == (
        "Phiếu lý lịch tư pháp số 1",
        sha256(result),
        len(result),
    )
    assert shown["href"] == f"/v1/track/{code}/documents/{sha256(result)}"
    download = await client.get(shown["href"], headers={"X-Tracking-Pin": pin})
    assert (download.status, await download.read()) == (200, result)
    assert await db.fetchval("SELECT organisation_id IS NULL FROM document_downloads") is True  # the citizen
    wrong = await client.get(shown["href"], headers={"X-Tracking-Pin": "000000" if pin != "000000" else "111111"})
    await _problem(wrong, 404, "tracking.not_found")
    component = await client.get(f"/v1/track/{code}/documents/{SHA}", headers={"X-Tracking-Pin": pin})
    await _problem(component, 404, "document.not_found")  # the citizen's PIN opens results, not components


async def test_a_paper_only_result_is_listed_but_not_downloadable(client, orgs, catalog_without_electronic_results):
    receipt = await _to_processing(catalog_without_electronic_results, orgs)
    client = catalog_without_electronic_results
    result = pdf("Phiếu")
    assert (await _put_result(client, orgs.agency, receipt["code"], result)).status == 201
    headers = {"X-Tracking-Pin": receipt["tracking_pin"]}
    tracked = await (await client.get(f"/v1/track/{receipt['code']}", headers=headers)).json()
    assert tracked["results"][0]["href"] is None
    download = await client.get(f"/v1/track/{receipt['code']}/documents/{sha256(result)}", headers=headers)
    await _problem(download, 403, "document.no_electronic_result")


@pytest.fixture
async def catalog_without_electronic_results(aiohttp_client, settings, tmp_path):
    """The same catalog with 2.000488's electronic result switched off."""
    source = settings.catalog_dir or Path(mapping.__file__).parent / "data" / "catalog"
    folder = tmp_path / "catalog"
    folder.mkdir()
    for name in ("procedures.jsonl", "agencies.jsonl"):
        text = (source / name).read_text(encoding="utf-8")
        folder.joinpath(name).write_text(text.replace('"electronic_result": true', '"electronic_result": false'))
    return await aiohttp_client(create_app(settings.model_copy(update={"catalog_dir": folder})))


async def test_a_mailed_result_queues_a_postal_order_naming_the_result_documents(client, orgs, db):
    body = postal_dossier(
        return_method={
            "type": "postal",
            "recipient_name": "Nguyễn Văn An",
            "phone": "0912345678",
            "address": {"unit_code": "00004", "address_line": "12 phố Đội Cấn"},
        }
    )
    receipt = await _to_processing(client, orgs, body=body)
    result = pdf("Phiếu gửi qua bưu điện")
    assert (await _put_result(client, orgs.agency, receipt["code"], result)).status == 201
    ready = await client.post(
        f"/v1/agency/dossiers/{receipt['code']}/events", json={"type": "result_ready"}, headers=orgs.agency.auth
    )
    assert ready.status == 201
    order = json.loads(await db.fetchval("SELECT payload FROM outbox WHERE kind = 'postal.result_order'"))
    assert order["dossier_code"] == receipt["code"]
    assert [d["sha256"] for d in order["documents"]] == [sha256(result)]
    assert order["receiver"]["recipient_name"] == "Nguyễn Văn An"


# --- Retention -----------------------------------------------------------------------------------------------------


async def _finish(client, orgs, receipt) -> None:
    for event in ("result_ready", "returned"):
        answer = await client.post(
            f"/v1/agency/dossiers/{receipt['code']}/events", json={"type": event}, headers=orgs.agency.auth
        )
        assert answer.status == 201, await answer.text()


async def test_purge_removes_old_finished_dossiers_files_and_keeps_the_evidence(client, orgs, db):
    old = await _to_processing(client, orgs, key="old")
    await _finish(client, orgs, old)
    kept_open = await _to_processing(
        client, orgs, key="open", body=postal_dossier(documents=[document("TK_LLTP", "riêng")])
    )
    shared = await _file(client, orgs, key="shared")  # the same form as `old`, dossier still open
    await db.execute("UPDATE dossiers SET updated_at = now() - interval '400 days' WHERE code = $1", old["code"])
    store = client.app[SERVICES].content
    cutoff = datetime.now(UTC) - timedelta(days=365)

    dry = await purge(db, store, cutoff, apply=False)
    assert (dry.files, dry.applied) == (1, False) and dry.bytes == len(TO_KHAI)
    assert SHA in _stored_files(client)

    # While another open dossier links the same content, it stays.
    await upload_documents(client, orgs.postal, shared)
    assert (await purge(db, store, cutoff, apply=False)).files == 0
    await db.execute("DELETE FROM document_downloads")
    await db.execute(
        "DELETE FROM dossier_documents WHERE dossier_id = (SELECT id FROM dossiers WHERE code = $1)", shared["code"]
    )

    done = await purge(db, store, cutoff, apply=True)
    assert (done.files, done.dossiers) == (1, 1)
    assert SHA not in _stored_files(client)
    assert len(_stored_files(client)) == 1  # the open dossier's own form
    assert await db.fetchval("SELECT purged_at IS NOT NULL FROM contents WHERE sha256 = $1", SHA)
    listing = await (await client.get(f"/v1/dossiers/{old['code']}/documents", headers=orgs.postal.auth)).json()
    assert listing["items"][0]["sha256"] == SHA and listing["items"][0]["href"] is None
    gone = await client.get(f"/v1/dossiers/{old['code']}/documents/{SHA}", headers=orgs.postal.auth)
    await _problem(gone, 410, "document.purged")
    own = document("TK_LLTP", "riêng")["sha256"]
    still = await client.get(f"/v1/dossiers/{kept_open['code']}/documents/{own}", headers=orgs.postal.auth)
    assert still.status == 200  # the open dossier's file is untouched


async def test_purge_removes_a_day_old_file_no_dossier_links(client, orgs, db):
    store = client.app[SERVICES].content
    orphan = pdf("orphan")
    async with store.receive(10_000) as incoming:
        await incoming.write(orphan)
        await incoming.finish()
        await incoming.place()
    path = client.app[SERVICES].settings.content_dir / sha256(orphan)[:2] / sha256(orphan)[2:4] / sha256(orphan)
    day_old = time.time() - 2 * 86_400
    os.utime(path, (day_old, day_old))
    report = await purge(db, store, datetime.now(UTC), apply=True)
    assert report.orphans == 1 and not path.exists()


async def test_the_purge_command_is_a_dry_run_unless_applied(db_url, orgs, client, db, tmp_path):
    receipt = await _to_processing(client, orgs)
    await _finish(client, orgs, receipt)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")},
        "MOTCUA_DATABASE_URL": db_url,
        "MOTCUA_DATA_DIR": str(client.app[SERVICES].settings.data_dir),
    }
    motcua = Path(sys.executable).parent / "motcua"

    async def run(*args: str) -> str:
        process = await asyncio.create_subprocess_exec(
            motcua,
            "documents",
            "purge",
            "--older-than-days",
            "0",
            *args,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await process.communicate()
        assert process.returncode == 0, out.decode()
        return out.decode()

    assert "Chạy thử" in await run() and SHA in _stored_files(client)
    assert "Đã xóa 1 tệp" in await run("--apply")
    assert SHA not in _stored_files(client)


async def test_stale_temporary_files_are_removed_at_start_and_live_ones_kept(settings, aiohttp_client):
    """A crash's leftover goes; a file another process (gateway beside worker) is still writing stays."""
    incoming = settings.content_dir / ".incoming"
    incoming.mkdir(parents=True)
    (incoming / "crashed-upload").write_bytes(b"%PDF-half")
    an_hour_ago = time.time() - 3601
    os.utime(incoming / "crashed-upload", (an_hour_ago, an_hour_ago))
    (incoming / "live-upload").write_bytes(b"%PDF-in progress")
    await aiohttp_client(create_app(settings))
    assert [path.name for path in incoming.iterdir()] == ["live-upload"]


async def test_another_process_starting_does_not_break_an_upload_in_progress(tmp_path):
    """Gateway and worker share the store: the worker starting while the gateway receives a file must leave
    that file alone (it once deleted it, and the upload answered 500)."""
    uploading, starting = LocalContentStore(tmp_path), LocalContentStore(tmp_path)
    uploading.prepare()
    content = pdf("in flight")
    async with uploading.receive(10_000) as incoming:
        await incoming.write(content)
        await incoming.finish()
        starting.prepare()
        assert await incoming.place() is True
    assert await uploading.exists(sha256(content))
