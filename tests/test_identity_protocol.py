"""Integration tests: the signed SOAP client against the population-database simulator on a real socket."""

import re
import unicodedata
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aiohttp
import httpx
import pytest
from lxml import etree

from identity.client import SoapPopulationRegister
from identity.errors import (
    BadSignature,
    IdentityError,
    IdentityFault,
    IdentityUnavailable,
    MalformedAnswer,
    ReplayedAnswer,
    StaleAnswer,
    UnsignedAnswer,
)
from identity.keys import create_demo_keys
from identity.messages import build_answer, build_request, parse_answer, parse_request
from identity.model import CitizenQuery
from identity.settings import IdentityConfig
from identity.signing import EnvelopeSigner, EnvelopeVerifier
from identity.simulator import FIXTURES, STATE, SimulatorConfig, generate_population, start_simulator

VENDOR = Path(__file__).parents[1] / "identity" / "vendor"


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return create_demo_keys(tmp_path_factory.mktemp("keys"))


def simulator_config(keys: dict[str, Path], register: str = "register", **kwargs) -> SimulatorConfig:
    return SimulatorConfig(
        key_file=keys[f"{register}.key"],
        cert_file=keys[f"{register}.crt"],
        trusted_client_certs=(keys["gateway.crt"],),
        population_size=kwargs.pop("population_size", 200),
        **kwargs,
    )


def client_config(keys: dict[str, Path], url: str, **kwargs) -> IdentityConfig:
    return IdentityConfig(
        url=url,
        key_file=keys["gateway.key"],
        cert_file=keys["gateway.crt"],
        trusted_certs=kwargs.pop("trusted_certs", (keys["register.crt"],)),
        **kwargs,
    )


@pytest.fixture
async def simulator(keys) -> AsyncIterator[tuple[object, str]]:
    runner, url = await start_simulator(simulator_config(keys, slow_seconds=1.0))
    yield runner, url
    await runner.cleanup()


@pytest.fixture
async def register(keys, simulator) -> AsyncIterator[SoapPopulationRegister]:
    _, url = simulator
    client = await SoapPopulationRegister.create(client_config(keys, url, timeout_seconds=0.5))
    yield client
    await client.close()


async def queue(url: str, *faults: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(url + "_simulator/faults", json={"next": list(faults)}) as response:
            assert response.status == 200


def query(id_number: str = "001090123456", **kwargs) -> CitizenQuery:
    fields = {
        "request_id": str(uuid.uuid4()),
        "id_number": id_number,
        "full_name": "Nguyễn Văn An",
        "birth_date": date(1990, 5, 14),
        "birth_year": None,
        "officer": "counter-01",
        "unit": "MOTCUA-GW",
        "service_code": "MOTCUA",
    }
    return CitizenQuery(**(fields | kwargs))


async def test_found_citizen_comes_back_verified(register):
    """A citizen of the register comes back with the full record, and the signed answer is kept as evidence."""
    asked = query()
    answer = await register.look_up(asked)
    assert answer.found and answer.request_id == asked.request_id
    assert answer.record is not None
    assert (answer.record.full_name, answer.record.birth_date, answer.record.sex) == (
        "Nguyễn Văn An",
        date(1990, 5, 14),
        "male",
    )
    assert answer.record.residence_legacy_ward == "00001"
    assert abs(datetime.now(UTC) - answer.answered_at) < timedelta(seconds=5)
    assert b"<ds:SignatureValue>" in answer.signed_xml and "Nguyễn Văn An".encode() in answer.signed_xml


async def test_unknown_citizen_is_not_found(register):
    """An ID number the register does not hold comes back as found False with no record."""
    answer = await register.look_up(query("001090999999"))
    assert (answer.found, answer.record) == (False, None)


async def test_year_only_citizen_has_no_birth_date(register):
    """A citizen registered with the birth year only comes back with birth_date None and birth_year set."""
    answer = await register.look_up(query("079185001234", full_name="Trần Thị Bích", birth_date=None, birth_year=1985))
    assert answer.record is not None
    assert (answer.record.birth_date, answer.record.birth_year, answer.record.sex) == (None, 1985, "female")


async def test_check_says_whether_name_and_birth_match(register):
    """XacThucThongTinCongDan answers TonTai true for the registered name and birth, false otherwise."""
    assert (await register.check(query())).found
    assert not (await register.check(query(full_name="Nguyễn Văn Anh"))).found


async def test_ping_is_a_signed_round_trip(register):
    """Ping completes a signed, verified round trip."""
    await register.ping()


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("tampered", BadSignature),
        ("unsigned", UnsignedAnswer),
        ("wrong_key", BadSignature),
        ("stale", StaleAnswer),
        ("replayed", ReplayedAnswer),
        ("malformed", MalformedAnswer),
        ("down", IdentityUnavailable),
        ("slow", IdentityUnavailable),
    ],
)
async def test_untrusted_or_failed_answers_are_rejected(register, simulator, fault, error):
    """Each simulator fault is rejected with its own error class (slow within the client's timeout)."""
    _, url = simulator
    await register.look_up(query())  # an earlier request, for "replayed" to echo
    await queue(url, fault)
    started = datetime.now(UTC)
    with pytest.raises(error):
        await register.look_up(query())
    assert datetime.now(UTC) - started < timedelta(seconds=0.9)  # slow_seconds is 1.0, the timeout 0.5


async def test_wrong_key_is_not_just_a_tampered_answer(register, simulator):
    """An answer validly signed by a key we do not pin is refused as BadSignature naming the pinning."""
    _, url = simulator
    await queue(url, "wrong_key")
    with pytest.raises(BadSignature, match="no pinned certificate"):
        await register.look_up(query())


async def test_simulator_refuses_an_unsigned_request(keys, simulator):
    """An unsigned request gets a SOAP fault with HTTP 500, which the client sees as IdentityFault."""
    _, url = simulator
    body = etree.tostring(build_request("TraCuuThongTinCongDan", query()))
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=body, headers={"Content-Type": "text/xml"}) as response:
            assert response.status == 500
            assert b"Fault" in await response.read()
    stranger = create_demo_keys(Path(str(keys["gateway.key"].parent) + "-stranger"))
    client = await SoapPopulationRegister.create(
        replace(client_config(keys, url), key_file=stranger["gateway.key"], cert_file=stranger["gateway.crt"])
    )
    try:
        with pytest.raises(IdentityFault, match="refused"):
            await client.look_up(query())
    finally:
        await client.close()


async def test_rotation_accepts_both_pinned_register_keys(keys):
    """A client pinning register.crt and register-next.crt accepts answers signed with either key."""
    runners = []
    try:
        for register in ("register", "register-next"):
            runner, url = await start_simulator(simulator_config(keys, register))
            runners.append(runner)
            both = (keys["register.crt"], keys["register-next.crt"])
            client = await SoapPopulationRegister.create(client_config(keys, url, trusted_certs=both))
            try:
                assert (await client.look_up(query())).found
            finally:
                await client.close()
            only_old = await SoapPopulationRegister.create(client_config(keys, url))
            try:
                if register == "register-next":
                    with pytest.raises(BadSignature):
                        await only_old.look_up(query())
            finally:
                await only_old.close()
    finally:
        for runner in runners:
            await runner.cleanup()


async def test_wsdl_is_fetched_once_per_client(register, simulator):
    """The client loads the WSDL when created and never again."""
    runner, _ = simulator
    for _ in range(3):
        await register.look_up(query())
    await register.ping()
    assert runner.app[STATE].wsdl_gets == 1


async def test_unreachable_service_is_unavailable(keys, simulator):
    """Connection refused, at creation or later, is IdentityUnavailable."""
    runner, url = simulator
    client = await SoapPopulationRegister.create(client_config(keys, url, timeout_seconds=0.5))
    await runner.cleanup()
    try:
        with pytest.raises(IdentityUnavailable):
            await client.look_up(query())
    finally:
        await client.close()
    with pytest.raises(IdentityUnavailable):
        await SoapPopulationRegister.create(client_config(keys, url, timeout_seconds=0.5))


def _mock_handler(keys: dict[str, Path], post: Callable[[httpx.Request], httpx.Response]):
    wsdl = (VENDOR / "population.wsdl").read_bytes()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, content=wsdl, headers={"Content-Type": "text/xml"})
        return post(request)

    return handler


def _signed_answer(keys: dict[str, Path], request: httpx.Request, edit: Callable[[etree._Element], None]) -> bytes:
    _, asked = parse_request(etree.fromstring(request.content))
    envelope = build_answer("TraCuuThongTinCongDan", asked.request_id, datetime.now(UTC), FIXTURES[0])
    edit(envelope)
    return EnvelopeSigner.from_files(keys["register.key"], keys["register.crt"]).sign_bytes(envelope)


def _set(name: str, value: str) -> Callable[[etree._Element], None]:
    def edit(envelope: etree._Element) -> None:
        envelope.find(f".//{{http://csdl.dancu.gov.vn/dvc/v1}}{name}").text = value

    return edit


def _raise(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def post(request: httpx.Request) -> httpx.Response:
        raise exc

    return post


_INJECTED: list[tuple[str, Callable[[dict, httpx.Request], httpx.Response] | Exception, type[IdentityError]]] = [
    ("read timeout", httpx.ReadTimeout("slow"), IdentityUnavailable),
    ("connect timeout", httpx.ConnectTimeout("slow"), IdentityUnavailable),
    ("connection refused", httpx.ConnectError("refused"), IdentityUnavailable),
    ("connection dropped", httpx.RemoteProtocolError("closed"), IdentityUnavailable),
    ("os error", ConnectionResetError("reset"), IdentityUnavailable),
    ("unexpected", RuntimeError("boom"), IdentityUnavailable),
    ("503 empty", lambda keys, request: httpx.Response(503), IdentityUnavailable),
    ("502 html", lambda keys, request: httpx.Response(502, content=b"<html>Bad gateway</html>"), IdentityUnavailable),
    ("500 text", lambda keys, request: httpx.Response(500, content=b"Internal error"), IdentityUnavailable),
    ("404", lambda keys, request: httpx.Response(404, content=b"not here"), IdentityUnavailable),
    (
        "soap fault",
        lambda keys, request: httpx.Response(
            500,
            content=b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>'
            b"<faultcode>s:Server</faultcode><faultstring>busy</faultstring></s:Fault></s:Body></s:Envelope>",
        ),
        IdentityFault,
    ),
    ("garbage", lambda keys, request: httpx.Response(200, content=b"\x00not xml"), MalformedAnswer),
    ("not an envelope", lambda keys, request: httpx.Response(200, content=b"<a/>"), MalformedAnswer),
    (
        "bad boolean",
        lambda keys, request: httpx.Response(200, content=_signed_answer(keys, request, _set("TonTai", "maybe"))),
        MalformedAnswer,
    ),
    (
        "bad timestamp",
        lambda keys, request: httpx.Response(200, content=_signed_answer(keys, request, _set("ThoiGian", "today"))),
        MalformedAnswer,
    ),
    (
        "bad birth",
        lambda keys, request: httpx.Response(
            200, content=_signed_answer(keys, request, _set("NgayThangNamSinh", "14/05/1990"))
        ),
        MalformedAnswer,
    ),
    (
        "another person",
        lambda keys, request: httpx.Response(
            200, content=_signed_answer(keys, request, _set("SoDinhDanh", "001090654321"))
        ),
        MalformedAnswer,
    ),
]


@pytest.mark.parametrize(("case", "injected", "error"), _INJECTED, ids=[case for case, _, _ in _INJECTED])
async def test_lower_level_errors_are_mapped_at_the_boundary(keys, case, injected, error):
    """Every transport, zeep, lxml or unexpected failure leaves the client as its identity error, nothing else."""

    def post(request: httpx.Request) -> httpx.Response:
        if isinstance(injected, Exception):
            raise injected
        return injected(keys, request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(_mock_handler(keys, post)))
    client = await SoapPopulationRegister.create(client_config(keys, "http://register.test/"), http_client=http)
    try:
        with pytest.raises(IdentityError) as raised:
            await client.look_up(query())
        assert type(raised.value) is error, raised.value
    finally:
        await client.close()


def test_population_is_large_and_well_formed():
    """The synthetic population has >= 10,000 citizens with well-formed ID numbers and NFC Vietnamese names,
    some registered with the year only and some born abroad."""
    people = generate_population(10_000, seed=2025)
    assert len(people) >= 10_000
    assert len({person.id_number for person in people}) == len(people)
    assert generate_population(50, seed=2025) == people[:55]  # deterministic from the seed
    for person in people:
        assert re.fullmatch(r"[0-9]{12}", person.id_number, re.ASCII), person
        digit = int(person.id_number[3])
        assert 1900 + 100 * (digit // 2) + int(person.id_number[4:6]) == person.birth_year, person
        assert (digit % 2 == 1) == (person.sex == "female"), person
        assert person.birth_date is None or person.birth_date.year == person.birth_year
        assert unicodedata.normalize("NFC", person.full_name) == person.full_name
        assert person.residence_legacy_ward and re.fullmatch(r"[0-9]{5}", person.residence_legacy_ward)
        assert person.cmnd_number is None or re.fullmatch(r"[0-9]{9}", person.cmnd_number)
    with_diacritics = sum(not person.full_name.isascii() for person in people)
    year_only = sum(person.birth_date is None for person in people)
    abroad = sum(int(person.id_number[:3]) > 96 for person in people)
    assert with_diacritics > 0.9 * len(people)
    assert 0.03 * len(people) < year_only < 0.08 * len(people)
    assert 0.01 * len(people) < abroad < 0.04 * len(people)
    assert any(person.full_name.startswith("Đặng") for person in people)


def test_fixtures_cover_the_awkward_cases():
    """FIXTURES hold the intake tests' applicant, a year-only, a born-abroad, a CMND and a diacritics-only case."""
    by_id = {person.id_number: person for person in FIXTURES}
    an = by_id["001090123456"]
    assert (an.full_name, an.birth_date, an.sex) == ("Nguyễn Văn An", date(1990, 5, 14), "male")
    assert any(person.birth_date is None for person in FIXTURES)
    assert any(int(person.id_number[:3]) > 96 for person in FIXTURES)
    assert any(person.cmnd_number and len(person.cmnd_number) == 9 for person in FIXTURES)
    folded = {
        "".join(c for c in unicodedata.normalize("NFD", p.full_name.replace("Đ", "D")) if c.isascii()) for p in FIXTURES
    }
    assert "Dang Thi Hoa" in folded


def test_vendor_samples_parse_and_verify():
    """The signed samples in identity/vendor verify against their certificates and parse with identity.messages."""
    answer_bytes = (VENDOR / "sample-answer.xml").read_bytes()
    verified = EnvelopeVerifier.from_files([VENDOR / "sample-register.crt"]).verify(answer_bytes)
    answer = parse_answer(verified.envelope, answer_bytes)
    assert answer.found and answer.record is not None
    assert answer.record.id_number == "001090123456" and answer.record.full_name == "Nguyễn Văn An"
    assert answer.answered_at == datetime.fromisoformat("2025-07-01T09:30:05+07:00")
    request = EnvelopeVerifier.from_files([VENDOR / "sample-gateway.crt"]).verify(
        (VENDOR / "sample-request.xml").read_bytes()
    )
    operation, asked = parse_request(request.envelope)
    assert (operation, asked.request_id, asked.id_number) == (
        "TraCuuThongTinCongDan",
        answer.request_id,
        "001090123456",
    )
    with pytest.raises(BadSignature):
        EnvelopeVerifier.from_files([VENDOR / "sample-register.crt"]).verify(
            answer_bytes.replace(b"Nam<", b"N\xe1\xbb\xaf<")
        )


def test_demo_keys_are_private_and_kept(tmp_path):
    """create_demo_keys writes three key pairs, keys mode 0600, and leaves existing files alone."""
    files = create_demo_keys(tmp_path)
    assert sorted(files) == sorted(
        f"{stem}.{ext}" for stem in ("gateway", "register", "register-next") for ext in ("key", "crt")
    )
    assert all(files[name].stat().st_mode & 0o777 == 0o600 for name in files if name.endswith(".key"))
    before = files["register.crt"].read_bytes()
    assert create_demo_keys(tmp_path)["register.crt"].read_bytes() == before


async def test_queued_faults_can_be_cleared(register, simulator):
    """DELETE /_simulator/faults clears the queue, so the next request is answered normally."""
    _, url = simulator
    await queue(url, "down", "down")
    async with aiohttp.ClientSession() as session:
        async with session.delete(url + "_simulator/faults") as response:
            assert response.status == 200
    assert (await register.look_up(query())).found
