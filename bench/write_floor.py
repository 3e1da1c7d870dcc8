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

Run by bench_intake (harness.measure_floor): python -m bench.write_floor PORT DSN
"""

import json
import os
import sys
from datetime import UTC, datetime

import asyncpg
from aiohttp import web

from gateway.store import idempotency
from gateway.store import intake as intake_store
from gateway.store.dossiers import allocate_code

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
    yield
    await pool.close()


async def intake(request: web.Request) -> web.Response:
    body = json.loads(await request.read())
    organisation, sample = request.app["organisation"], request.app["sample"]
    key = request.headers["Idempotency-Key"]
    now = datetime.now(UTC)
    agency = "FLOOR-" + body["applicant"]["residence"]["unit_code"]
    async with request.app["pool"].acquire() as conn:
        claim = await idempotency.claim(conn, organisation, key, os.urandom(32), 300, 24)
        if claim.outcome != "new":
            return web.Response(status=409)
        async with conn.transaction():
            code = await allocate_code(conn, agency, now.date())
            answer = json.dumps(sample["receipt"] | {"code": code}, ensure_ascii=False).encode()
            _, answered = await intake_store.insert(
                conn,
                None,  # no fresh evidence to seal: the verification is a cached one
                intake_store.NewDossier(
                    dossier={
                        "code": code,
                        "procedure_code": sample["procedure_code"],
                        "agency_code": agency,
                        "submitter_org_id": organisation,
                        "channel": "postal",
                        "status": "received",
                        "identity_status": "verified",
                        "identity_evidence_id": sample["identity_evidence_id"],
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
                    audit=intake_store.Audit(f"ORG-{organisation}", "-", "cached", None, None),
                    evidence=None,
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
