"""Integration (real PostgreSQL, real HTTP): Idempotency-Key on POST /v1/dossiers gives one answer per
(organisation, key), whatever the retries."""

import asyncio
import json

from gateway.workflow.intake import request_fingerprint
from tests.samples import postal_dossier, upload_documents


def reorder(value):
    """The same JSON value with every object's keys in reverse order."""
    if isinstance(value, dict):
        return {key: reorder(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reorder(item) for item in value]
    return value


async def file(client, org, body, key):
    headers = {**org.auth, "Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await client.post("/v1/dossiers", data=json.dumps(body, ensure_ascii=False), headers=headers)


async def dossier_count(db) -> int:
    return await db.fetchval("SELECT count(*) FROM dossiers")


async def test_missing_key_is_refused(client, orgs, db):
    """A dossier without an Idempotency-Key is refused with 400 `idempotency.key_missing` and nothing is stored."""
    answer = await file(client, orgs.postal, postal_dossier(), None)
    assert answer.status == 400
    assert answer.content_type == "application/problem+json"
    assert (await answer.json())["code"] == "idempotency.key_missing"
    assert await dossier_count(db) == 0


async def test_invalid_key_is_refused(client, orgs, db):
    """An Idempotency-Key with spaces or over 200 characters is refused with 400 `idempotency.key_invalid`."""
    for key in ("has space", "k" * 201):
        answer = await file(client, orgs.postal, postal_dossier(), key)
        assert answer.status == 400, key
        assert (await answer.json())["code"] == "idempotency.key_invalid"
    assert await dossier_count(db) == 0


async def test_replay_returns_the_original_answer(client, orgs, db):
    """The same key with the same body answers the original receipt again, marked replayed, and files once."""
    first = await file(client, orgs.postal, postal_dossier(), "replay-1")
    assert first.status == 201, await first.text()
    original = await first.json()
    assert "Idempotent-Replayed" not in first.headers

    again = await file(client, orgs.postal, postal_dossier(), "replay-1")
    assert again.status == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == f"/v1/dossiers/{original['code']}"
    replayed = await again.json()
    assert replayed == original
    assert replayed["tracking_pin"] == original["tracking_pin"]
    assert await dossier_count(db) == 1
    assert await db.fetchval("SELECT count(*) FROM outbox") == 1  # no delivery before the files arrive
    await upload_documents(client, orgs.postal, original)
    assert await db.fetchval("SELECT count(*) FROM outbox") == 2


async def test_same_body_in_another_key_order_is_the_same_request(client, orgs, db):
    """A body whose object keys come in another order is the same request: it replays, it is not a reuse."""
    body = postal_dossier()
    first = await file(client, orgs.postal, body, "order-1")
    assert first.status == 201, await first.text()
    reordered = reorder(body)
    assert json.dumps(reordered) != json.dumps(body)

    again = await file(client, orgs.postal, reordered, "order-1")
    assert again.status == 201, await again.text()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (await again.json())["code"] == (await first.json())["code"]
    assert await dossier_count(db) == 1


async def test_same_key_with_another_body_is_refused(client, orgs, db):
    """The same key with a different body is refused with 422 `idempotency.key_reused` and files nothing more."""
    first = await file(client, orgs.postal, postal_dossier(), "reuse-1")
    assert first.status == 201, await first.text()
    changed = postal_dossier(
        return_method={
            "type": "postal",
            "recipient_name": "Nguyễn Văn An",
            "phone": "0912345678",
            "address": {"unit_code": "00004", "address_line": "12 phố Đội Cấn"},
        }
    )
    answer = await file(client, orgs.postal, changed, "reuse-1")
    assert answer.status == 422
    assert answer.content_type == "application/problem+json"
    assert (await answer.json())["code"] == "idempotency.key_reused"
    assert await dossier_count(db) == 1


async def test_key_in_flight_is_a_conflict(client, orgs, db):
    """While another request holds the key (claimed just now), the same request is 409 `idempotency.in_flight`."""
    body = postal_dossier()
    await db.execute(
        "INSERT INTO idempotency_keys (organisation_id, key, request_hash, state, locked_at)"
        " VALUES ($1, $2, $3, 'in_flight', now())",
        orgs.postal.id,
        "flight-1",
        request_fingerprint(body),
    )
    answer = await file(client, orgs.postal, body, "flight-1")
    assert answer.status == 409
    assert answer.headers["Retry-After"] == "1"
    assert (await answer.json())["code"] == "idempotency.in_flight"
    assert await dossier_count(db) == 0
    assert await db.fetchval("SELECT state FROM idempotency_keys WHERE key = 'flight-1'") == "in_flight"


async def test_abandoned_claim_is_taken_over(client, orgs, db):
    """A claim left in flight for longer than the lease is taken over, and the request is filed normally."""
    body = postal_dossier()
    await db.execute(
        "INSERT INTO idempotency_keys (organisation_id, key, request_hash, state, locked_at)"
        " VALUES ($1, $2, $3, 'in_flight', now() - interval '1 hour')",
        orgs.postal.id,
        "stale-1",
        request_fingerprint(body),
    )
    answer = await file(client, orgs.postal, body, "stale-1")
    assert answer.status == 201, await answer.text()
    assert await dossier_count(db) == 1
    row = await db.fetchrow("SELECT state, response_status FROM idempotency_keys WHERE key = 'stale-1'")
    assert (row["state"], row["response_status"]) == ("done", 201)

    again = await file(client, orgs.postal, body, "stale-1")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (await again.json())["code"] == (await answer.json())["code"]


async def test_refused_request_leaves_the_key_free(client, orgs, db):
    """A request refused for routing leaves its key unused, so a corrected dossier may be filed under it."""
    unroutable = postal_dossier(
        procedure_code="DEMO.DD.01",
        documents=[],
        fees=[],
    )
    refused = await file(client, orgs.postal, unroutable, "fix-1")
    assert refused.status == 422
    assert (await refused.json())["code"] == "unit.unknown"  # the land lies nowhere given
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys") == 0

    corrected = await file(client, orgs.postal, postal_dossier(), "fix-1")
    assert corrected.status == 201, await corrected.text()
    assert "Idempotent-Replayed" not in corrected.headers
    assert await dossier_count(db) == 1


async def test_failure_inside_the_commit_releases_the_claim(client, orgs, db):
    """When the intake transaction fails after the key was claimed, the claim is released and a retry files."""
    blocker = await client.post(
        "/v1/dossiers", json=postal_dossier(), headers={**orgs.postal.auth, "Idempotency-Key": "blocker"}
    )
    assert blocker.status == 201, await blocker.text()
    code = (await blocker.json())["code"]
    # Wind the day's counter back: the next intake draws the same number again and its insert fails.
    await db.execute("UPDATE dossier_sequences SET last_value = 0")

    failed = await file(client, orgs.postal, postal_dossier(), "retry-1")
    assert failed.status == 500
    assert (await failed.json())["code"] == "internal"
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = 'retry-1'") == 0

    await db.execute("UPDATE dossier_sequences SET last_value = 1")
    retried = await file(client, orgs.postal, postal_dossier(), "retry-1")
    assert retried.status == 201, await retried.text()
    assert "Idempotent-Replayed" not in retried.headers
    assert (await retried.json())["code"] == code[:-4] + "0002"


async def test_keys_belong_to_one_organisation(client, orgs, db):
    """Two organisations may use the same key independently: each files its own dossier under it."""
    mine = await file(client, orgs.postal, postal_dossier(), "shared-key")
    theirs = await file(client, orgs.other_postal, postal_dossier(), "shared-key")
    assert mine.status == 201, await mine.text()
    assert theirs.status == 201, await theirs.text()
    assert "Idempotent-Replayed" not in theirs.headers
    assert (await mine.json())["code"] != (await theirs.json())["code"]
    assert await dossier_count(db) == 2


async def test_concurrent_retries_file_once(client, orgs, db):
    """Ten copies of one request sent at once file one dossier; the others replay it or are told it is in flight."""
    answers = await asyncio.gather(*(file(client, orgs.postal, postal_dossier(), "burst") for _ in range(10)))
    outcomes = []
    for answer in answers:
        body = await answer.json()
        if answer.status == 201:
            outcomes.append(("replayed" if answer.headers.get("Idempotent-Replayed") else "filed", body["code"]))
        else:
            assert (answer.status, body["code"]) == (409, "idempotency.in_flight")
            outcomes.append(("in_flight", None))
    filed = [code for outcome, code in outcomes if outcome == "filed"]
    assert len(filed) == 1
    assert {code for outcome, code in outcomes if outcome == "replayed"} <= set(filed)
    assert await dossier_count(db) == 1
