"""The intake's write floor: aiohttp answering POST /v1/dossiers with only the database work an intake must do,
and nothing else. The Idempotency-Key claimed (the gateway's own `idempotency.claim`), then in one transaction
the agency's code counter (`dossiers.allocate_code`) and the gateway's one-statement write
(`gateway/store/intake.py`: the dossier, its first event and portal-sync message, the identity audit, its
step, the S10 number, the sealed answer); no authentication, validation, routing, appointment, receipt, PIN,
sealing, identity cache or logging.

The values stored have a real intake's sizes: the routing and receipt of the last dossier the gateway stored
(read at start, as stored, its personal data sealed) and an answer of the size a sealed receipt takes, so
PostgreSQL does per request what it does for a real intake. Agencies are told apart by the applicant's
commune, so the code counters spread as the gateway's do.

With `fresh`, each applicant is first looked up in the population database as the gateway does (its own
client: signed SOAP request, the signed answer checked), and the answer is stored as evidence with its audit and
cache rows: the floor of an intake with a fresh identity check (no matching rules, no metrics).

Run by bench_intake (harness.measure_floor): python -m bench.write_floor PORT DSN [fresh]
"""

import json
import os
import sys
import uuid
from datetime import UTC, date, datetime, timedelta

import asyncpg
from aiohttp import web

from gateway.personal import PersonalData
from gateway.register import RegisterConnection, identity_config
from gateway.settings import Settings
from gateway.store import idempotency
from gateway.store import intake as intake_store
from gateway.store.dossiers import allocate_code
from identity.model import CitizenQuery

SEALED_GROWTH = 1.4  # a Fernet token (base64 of IV, ciphertext, MAC) is about this much longer than its text


async def _json(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _database(app: web.Application):
    pool = await asyncpg.create_pool(sys.argv[2], min_size=16, max_size=16, init=_json)
    async with pool.acquire() as conn:
        app["organisation"] = await conn.fetchval("SELECT id FROM organisations ORDER BY id LIMIT 1")
        app["sample"] = await conn.fetchrow(
            "SELECT procedure_code, routing, receipt, identity_evidence_id FROM dossiers"
            " WHERE identity_evidence_id IS NOT NULL ORDER BY id DESC LIMIT 1"
        )
    app["pool"] = pool
    app["register"] = None
    if sys.argv[3:] == ["fresh"]:
        settings = Settings()  # the gateway's MOTCUA_IDENTITY_* settings, from the environment
        app["register"] = RegisterConnection(identity_config(settings))
        await app["register"].start()
        app["personal"] = PersonalData.from_secrets(os.urandom(32), [])
        app["service_code"] = settings.identity_service_code
    yield
    if app["register"] is not None:
        await app["register"].close()
    await pool.close()


async def _look_up(app: web.Application, applicant: dict) -> intake_store.Evidence:
    """The signed look-up, as the gateway makes it; its answer as evidence, to be cached."""
    answer = await app["register"].look_up(
        CitizenQuery(
            request_id=uuid.uuid4().hex,
            id_number=applicant["id_number"],
            full_name=applicant["full_name"],
            birth_date=date.fromisoformat(applicant["date_of_birth"]),
            birth_year=None,
            officer="ORG-floor",
            unit="-",
            service_code=app["service_code"],
        )
    )
    if not answer.found:
        raise web.HTTPUnprocessableEntity()
    until = datetime.now(UTC) + timedelta(days=1)
    return intake_store.Evidence(answer.request_id, answer.signed_xml, os.urandom(32), until)


async def intake(request: web.Request) -> web.Response:
    body = json.loads(await request.read())
    organisation, sample = request.app["organisation"], request.app["sample"]
    key = request.headers["Idempotency-Key"]
    now = datetime.now(UTC)
    agency = "FLOOR-" + body["applicant"]["residence"]["unit_code"]
    evidence = None
    if request.app["register"] is not None:  # the look-up holds no pooled connection, as in the gateway
        evidence = await _look_up(request.app, body["applicant"])
    async with request.app["pool"].acquire() as conn:
        claim = await idempotency.claim(conn, organisation, key, os.urandom(32), 300, 24)
        if claim.outcome != "new":
            return web.Response(status=409)
        async with conn.transaction():
            code = await allocate_code(conn, agency, now.date())
            answer = json.dumps(sample["receipt"] | {"code": code}, ensure_ascii=False).encode()
            _, answered = await intake_store.insert(
                conn,
                request.app.get("personal"),  # seals a fresh answer kept as evidence
                intake_store.NewDossier(
                    dossier={
                        "code": code,
                        "procedure_code": sample["procedure_code"],
                        "agency_code": agency,
                        "submitter_org_id": organisation,
                        "channel": "postal",
                        "status": "received",
                        "identity_status": "verified",
                        "identity_evidence_id": None if evidence else sample["identity_evidence_id"],
                        "received_at": now,
                        "appointment_at": now,
                        "pin_salt": os.urandom(16),
                        "pin_hash": os.urandom(32),
                        "body": body,
                        "applicant_lookup": os.urandom(32),
                        "routing": sample["routing"],
                        "receipt": sample["receipt"] | {"code": code},
                    },
                    event={
                        "type": "received",
                        "status_after": "received",
                        "occurred_at": now,
                        "actor_org_id": organisation,
                        "data": {"channel": "postal", "appointment_at": now.isoformat()},
                    },
                    steps=[(1, agency, "floor")],
                    audit=intake_store.Audit(
                        f"ORG-{organisation}",
                        evidence.request_id if evidence else "-",
                        "verified" if evidence else "cached",
                        None,
                        None,
                    ),
                    evidence=evidence,
                    item_number=body["channel"]["item_number"],
                    idempotency=(organisation, key, claim.locked_at),
                    answer=os.urandom(int(len(answer) * SEALED_GROWTH)),
                ),
            )
            if not answered:
                raise web.HTTPInternalServerError()
    return web.Response(body=answer, status=201, content_type="application/json")


def main() -> None:
    app = web.Application()
    app.cleanup_ctx.append(_database)
    app.router.add_post("/v1/dossiers", intake)
    app.router.add_get("/", lambda request: web.json_response({}))
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
