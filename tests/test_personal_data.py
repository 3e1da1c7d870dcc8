"""Personal data at rest (gateway/personal.py): ID and phone numbers sealed in every stored JSON value and in the
identity evidence, opened for the handlers, found again by a keyed hash, and brought under a new key by
`motcua personal-data reseal` without breaking the timeline's hash chain."""

import asyncio
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from gateway.app import create_app, personal_data
from gateway.keys import SERVICES
from gateway.personal import PREFIX, PersonalData, PersonalDataError
from gateway.store.audit import verify_chains
from gateway.workflow.reseal import reseal
from tests.conftest import SECRET as SECRET_KEY
from tests.processes import motcua_env
from tests.samples import counter_dossier, file_dossier, postal_dossier
from tests.test_readme import ROOT

SECRET = b"s" * 40
ID_NUMBER = "001090123456"
PHONE = "0912345678"
RECIPIENT_PHONE = "0987654321"
OLD_KEY, NEW_KEY = "o" * 40, "n" * 40


def _cipher(*keys: str) -> PersonalData:
    return PersonalData.from_secrets(SECRET, list(keys))


def test_a_value_opens_with_its_field_and_key_only():
    personal = _cipher(OLD_KEY)
    token = personal.encrypt("id_number", ID_NUMBER)
    assert token.startswith(f"{PREFIX}{personal.current_key_id}:") and ID_NUMBER not in token
    assert personal.encrypt("id_number", ID_NUMBER) != token  # a fresh nonce each time: equal numbers don't show
    assert personal.decrypt("id_number", token) == ID_NUMBER
    with pytest.raises(PersonalDataError):
        personal.decrypt("phone", token)  # moved to another field
    damaged = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(PersonalDataError):
        personal.decrypt("id_number", damaged)
    with pytest.raises(PersonalDataError):
        _cipher(NEW_KEY).decrypt("id_number", token)  # a key that is not configured


def test_rotation_the_first_key_seals_and_every_listed_key_opens():
    old, rotated = _cipher(OLD_KEY), _cipher(NEW_KEY, OLD_KEY)
    sealed_before = old.encrypt("phone", PHONE)
    assert rotated.decrypt("phone", sealed_before) == PHONE
    assert not rotated.is_current(sealed_before)
    sealed_after = rotated.encrypt("phone", PHONE)
    assert rotated.is_current(sealed_after) and rotated.current_key_id != old.current_key_id
    assert old.lookup("id_number", ID_NUMBER) == rotated.lookup("id_number", ID_NUMBER)  # search survives rotation


def test_the_lookup_hash_is_keyed_and_exact():
    personal = _cipher(OLD_KEY)
    assert personal.lookup("id_number", ID_NUMBER) == personal.lookup("id_number", f" {ID_NUMBER} ")
    assert personal.lookup("id_number", ID_NUMBER) != personal.lookup("id_number", "001090123457")
    other_secret = PersonalData.from_secrets(b"t" * 40, [OLD_KEY])
    assert other_secret.lookup("id_number", ID_NUMBER) != personal.lookup("id_number", ID_NUMBER)


def test_blobs_are_sealed_for_one_purpose_and_clear_old_ones_pass():
    personal = _cipher(OLD_KEY)
    blob = personal.seal_bytes("identity-evidence", b"<xml>001090123456</xml>")
    assert b"001090123456" not in blob and personal.blob_is_current(blob)
    assert personal.open_bytes("identity-evidence", blob) == b"<xml>001090123456</xml>"
    with pytest.raises(PersonalDataError):
        personal.open_bytes("other", blob)
    assert personal.open_bytes("identity-evidence", b"<xml/>") == b"<xml/>"  # stored before encryption at rest


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["id_number", "phone", "cmnd_number", "name", "x"]), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_round_trips_and_no_personal_string_is_stored_in_clear(value):
    personal = _cipher(OLD_KEY)
    stored = personal.dumps(value)
    assert personal.loads(stored) == value
    assert not personal.stale(stored)

    def personal_strings(node):
        if isinstance(node, dict):
            for key, item in node.items():
                if key in ("id_number", "phone", "cmnd_number") and isinstance(item, str):
                    yield item
                else:
                    yield from personal_strings(item)
        elif isinstance(node, list):
            for item in node:
                yield from personal_strings(item)

    for clear in personal_strings(json.loads(stored)):
        assert clear.startswith(PREFIX)


def test_keys_shorter_than_32_characters_are_refused(settings):
    with pytest.raises(ValueError, match="MOTCUA_PERSONAL_DATA_KEYS"):
        personal_data(settings.model_copy(update={"personal_data_keys": [SecretStr("short")]}))


async def _stored_texts(db) -> str:
    """Every JSON column and the evidence as PostgreSQL holds them, in one string to search."""
    rows = await db.fetch(
        "SELECT body::text || routing::text || receipt::text AS t FROM dossiers"
        " UNION ALL SELECT payload::text || coalesce(receipt::text, '') FROM outbox"
        " UNION ALL SELECT data::text FROM dossier_events"
        " UNION ALL SELECT encode(signed_xml, 'escape') FROM identity_evidence"
    )
    return "\n".join(row["t"] for row in rows)


async def test_what_the_gateway_stores_is_sealed_and_what_it_answers_is_clear(client, orgs, db):
    """A postal dossier mailed back to a recipient with a phone: the body, receipt, outbox payloads and events
    hold no ID or phone number in clear; the agency reads them in clear in its inbox."""
    body = postal_dossier(
        return_method={
            "type": "postal",
            "recipient_name": "Nguyễn Văn An",
            "phone": RECIPIENT_PHONE,
            "address": {"unit_code": "00004", "address_line": "12 phố Đội Cấn"},
        }
    )
    code = (await file_dossier(client, orgs.postal, body, "sealed-1"))["code"]
    stored = await _stored_texts(db)
    assert code in stored  # the scan reads the rows that matter
    for clear in (ID_NUMBER, PHONE, RECIPIENT_PHONE):
        assert clear not in stored
    assert stored.count(PREFIX) >= 3
    inbox = await (await client.get("/v1/agency/inbox", headers=orgs.agency.auth)).json()
    [delivered] = [item["payload"] for item in inbox["items"]]
    assert (delivered["applicant"]["id_number"], delivered["applicant"]["phone"]) == (ID_NUMBER, PHONE)
    assert delivered["return_method"]["phone"] == RECIPIENT_PHONE


async def test_operators_find_an_applicants_dossiers_by_id_number(client, orgs, db):
    first = (await file_dossier(client, orgs.postal, postal_dossier(), "find-1"))["code"]
    second = (await file_dossier(client, orgs.counter, counter_dossier(), "find-2"))["code"]
    other = postal_dossier()
    other["applicant"] = other["applicant"] | {"id_number": "079195000017", "date_of_birth": "1995-03-02"}
    await file_dossier(client, orgs.postal, other, "find-3")

    async def search(id_number, org=orgs.admin):
        return await client.post("/v1/admin/dossiers/search", json={"id_number": id_number}, headers=org.auth)

    answer = await search(ID_NUMBER)
    assert answer.status == 200
    assert [item["code"] for item in (await answer.json())["items"]] == [second, first]
    assert (await (await search("001090999999")).json())["items"] == []
    bad = await search("12345")
    assert (bad.status, (await bad.json())["code"]) == (422, "validation.failed")
    assert (await search(ID_NUMBER, orgs.postal)).status == 403
    assert await db.fetchval("SELECT count(*) FROM dossiers WHERE applicant_lookup IS NULL") == 0


async def test_reseal_moves_everything_to_the_new_key_and_seals_rows_stored_in_clear(
    aiohttp_client, orgs, db, settings, personal
):
    """Rotation: dossiers filed under the old key; one of them rewritten in clear as a row from before encryption
    at rest (no look-up hash, clear evidence). With the new key first, reseal's dry run counts without writing,
    the real run leaves only new-key values, the second run finds nothing, the chains still verify, and a
    gateway holding the new key alone serves the dossiers and finds them by ID number."""
    old = settings.model_copy(update={"personal_data_keys": [SecretStr(OLD_KEY)]})
    before = await aiohttp_client(create_app(old))
    codes = [(await file_dossier(before, orgs.postal, postal_dossier(), f"rot-{i}"))["code"] for i in range(3)]
    await before.close()
    legacy = personal_data(old)
    clear_body = legacy.loads(await db.fetchval("SELECT body::text FROM dossiers WHERE code = $1", codes[0]))
    await db.execute(
        "UPDATE dossiers SET body = $2::jsonb, applicant_lookup = NULL WHERE code = $1",
        codes[0],
        json.dumps(clear_body),
    )
    assert ID_NUMBER in await _stored_texts(db)

    both = [SecretStr(NEW_KEY), SecretStr(OLD_KEY)]
    rotated = personal_data(settings.model_copy(update={"personal_data_keys": both}))
    untouched = await _stored_texts(db)
    dry = await reseal(db, rotated, apply=False)
    assert dry.rows["dossiers"] == 3 and dry.rows["outbox"] >= 3 and dry.lookups == 1
    assert await _stored_texts(db) == untouched
    done = await reseal(db, rotated, apply=True)
    assert (done.rows, done.lookups, done.evidence) == (dry.rows, dry.lookups, dry.evidence)
    assert (await reseal(db, rotated, apply=False)).total == 0
    stored = await _stored_texts(db)
    assert ID_NUMBER not in stored and PHONE not in stored
    assert f"{PREFIX}{legacy.current_key_id}:" not in stored and f"{PREFIX}{rotated.current_key_id}:" in stored
    assert not (await verify_chains(db)).broken

    new_only = settings.model_copy(update={"personal_data_keys": [SecretStr(NEW_KEY)]})
    after = await aiohttp_client(create_app(new_only))
    inbox = await (await after.get("/v1/agency/inbox", headers=orgs.agency.auth)).json()
    assert sorted(item["dossier_code"] for item in inbox["items"]) == sorted(codes)
    assert {item["payload"]["applicant"]["id_number"] for item in inbox["items"]} == {ID_NUMBER}
    found = await after.post("/v1/admin/dossiers/search", json={"id_number": ID_NUMBER}, headers=orgs.admin.auth)
    assert sorted(item["code"] for item in (await found.json())["items"]) == sorted(codes)
    assert after.app[SERVICES].personal.current_key_id == rotated.current_key_id


async def test_the_reseal_command_takes_a_gateway_off_the_key_derived_from_its_secret(
    client, orgs, db, db_url, settings
):
    """A gateway with no personal-data key seals under one derived from its server secret, the same key as the
    secret itself listed as one: `motcua personal-data reseal`, with a new key first and the secret second,
    counts (dry run), rewrites (--apply) and counts nothing after; a gateway with the new key alone reads all."""
    codes = [(await file_dossier(client, orgs.postal, postal_dossier(), f"cmd-{i}"))["code"] for i in range(2)]
    env = motcua_env(
        MOTCUA_DATABASE_URL=db_url,
        MOTCUA_SECRET_KEY=SECRET_KEY,
        MOTCUA_PERSONAL_DATA_KEYS=json.dumps([NEW_KEY, SECRET_KEY]),
    )

    async def reseal_command(*args: str) -> str:
        process = await asyncio.create_subprocess_exec(
            str(ROOT / ".venv" / "bin" / "motcua"),
            "personal-data",
            "reseal",
            *args,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        return out.decode()

    dry = await reseal_command()
    assert "Chạy thử, chưa ghi gì: sẽ mã hoá lại 2 dòng dossiers" in dry and "--apply" in dry
    assert "Đã mã hoá lại 2 dòng dossiers" in await reseal_command("--apply")
    again = await reseal_command()
    assert "0 dòng dossiers, 0 dòng dossier_events, 0 dòng outbox, 0 dòng dossier_steps; 0 bằng chứng" in again
    assert "--apply" not in again

    reader = personal_data(settings.model_copy(update={"personal_data_keys": [SecretStr(NEW_KEY)]}))
    stored = await db.fetch("SELECT code, body::text AS body FROM dossiers")
    assert {row["code"] for row in stored} == set(codes)
    assert {reader.loads(row["body"])["applicant"]["id_number"] for row in stored} == {ID_NUMBER}
