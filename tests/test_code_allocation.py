"""Integration (real PostgreSQL, real HTTP): dossier codes `{agency}-{yyMMdd}-{NNNN}` are gap-free per agency
and day, under concurrency and across rolled-back transactions."""

import asyncio
from datetime import datetime

from gateway.store.dossiers import allocate_code
from mapping.calendar import VN_TZ
from tests.samples import POSTAL_DOSSIER, counter_dossier, postal_dossier

HANOI_JUSTICE = "000.00.10.H26"
DANANG_JUSTICE = "000.00.10.H17"


def da_nang_dossier() -> dict:
    applicant = {
        **POSTAL_DOSSIER["applicant"],
        "residence": {"unit_code": "20194", "address_line": "5 đường Nguyễn Tất Thành"},
    }
    return counter_dossier(applicant=applicant)


async def file(client, org, body, key):
    answer = await client.post("/v1/dossiers", json=body, headers={**org.auth, "Idempotency-Key": key})
    assert answer.status == 201, await answer.text()
    return (await answer.json())["code"]


def today() -> str:
    return f"{datetime.now(VN_TZ):%y%m%d}"


async def test_concurrent_intakes_get_distinct_consecutive_codes(client, orgs, db):
    """200 intakes filed at once for one agency get 200 distinct codes numbered 0001 to 0200, without gaps."""
    codes = await asyncio.gather(*(file(client, orgs.postal, postal_dossier(), f"burst-{i}") for i in range(200)))
    assert len(set(codes)) == 200
    prefixes = {code.rsplit("-", 1)[0] for code in codes}
    assert prefixes == {f"{HANOI_JUSTICE}-{today()}"}
    assert sorted(code.rsplit("-", 1)[1] for code in codes) == [f"{n:04d}" for n in range(1, 201)]
    assert await db.fetchval("SELECT count(*) FROM dossiers") == 200


async def test_each_agency_has_its_own_sequence(client, orgs):
    """Codes of two agencies are numbered independently: each agency's first dossier of the day is 0001."""
    hanoi = [await file(client, orgs.postal, postal_dossier(), f"hn-{i}") for i in range(3)]
    danang = [await file(client, orgs.counter, da_nang_dossier(), f"dn-{i}") for i in range(2)]
    hanoi.append(await file(client, orgs.postal, postal_dossier(), "hn-3"))
    assert hanoi == [f"{HANOI_JUSTICE}-{today()}-{n:04d}" for n in range(1, 5)]
    assert danang == [f"{DANANG_JUSTICE}-{today()}-{n:04d}" for n in range(1, 3)]


async def test_rolled_back_allocation_does_not_consume_a_code(client, orgs, db):
    """A code drawn in a transaction that rolls back is drawn again by the next intake: no gap is left."""
    day = datetime.now(VN_TZ).date()
    transaction = db.transaction()
    await transaction.start()
    drawn = await allocate_code(db, HANOI_JUSTICE, day)
    assert drawn == f"{HANOI_JUSTICE}-{day:%y%m%d}-0001"
    await transaction.rollback()

    assert await file(client, orgs.postal, postal_dossier(), "after-rollback") == drawn
    assert await file(client, orgs.postal, postal_dossier(), "next") == f"{HANOI_JUSTICE}-{day:%y%m%d}-0002"
