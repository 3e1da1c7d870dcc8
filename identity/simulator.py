"""A population-database simulator speaking the vendor WSDL over a real socket.

    GET  /?wsdl                 the WSDL, its soap:address set to this server's URL
    POST /                      SOAP 1.1: XacThucThongTinCongDan, TraCuuThongTinCongDan, Ping
    POST /_simulator/faults     {"next": ["stale", ...]} queues faults for the next SOAP requests
    DELETE /_simulator/faults   clears the queue
    GET  /_simulator/stats      {"wsdl_gets": n, "requests": n, "queued": [...]}

Requests must be signed by a pinned client certificate (else a soap:Client fault, HTTP 500); answers are
signed with the register key. Faults: slow, down, malformed, unsigned, wrong_key, stale, replayed,
tampered (see FAULTS). The population is synthetic, generated from a seed, plus FIXTURES.

Run it alone: python -m identity.simulator --port 8090 [--keys-dir .data/keys] [--fault stale]
"""

import argparse
import asyncio
import random
import unicodedata
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web
from lxml import etree

from identity.errors import IdentityError
from identity.keys import create_demo_keys, generate_pair
from identity.messages import (
    TNS,
    MalformedRequest,
    Operation,
    build_answer,
    build_fault,
    parse_request,
)
from identity.model import CitizenQuery, CitizenRecord
from identity.signing import EnvelopeSigner, EnvelopeVerifier, parse_envelope

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
WSDL_PATH = Path(__file__).parent / "vendor" / "population.wsdl"
FAULTS = ("slow", "down", "malformed", "unsigned", "wrong_key", "stale", "replayed", "tampered")
_XML = "text/xml; charset=utf-8"


@dataclass(frozen=True)
class SimulatorConfig:
    key_file: Path  # register key: signs answers
    cert_file: Path
    trusted_client_certs: tuple[Path, ...]  # verifies requests (the gateway's certificate)
    fault: str | None = None  # run-level fault, one of FAULTS
    population_size: int = 10_000
    seed: int = 2025
    slow_seconds: float = 5


# --- population --------------------------------------------------------------------------------------

FAMILY_NAMES = (
    ("Nguyễn", 30),
    ("Trần", 11),
    ("Lê", 9),
    ("Phạm", 7),
    ("Hoàng", 5),
    ("Huỳnh", 5),
    ("Phan", 4),
    ("Vũ", 4),
    ("Võ", 4),
    ("Đặng", 2),
    ("Bùi", 2),
    ("Đỗ", 2),
    ("Hồ", 2),
    ("Ngô", 2),
    ("Dương", 1),
    ("Lý", 1),
    ("Đinh", 1),
    ("Trịnh", 1),
    ("Lương", 1),
    ("Mai", 1),
)
MIDDLE_NAMES = {
    "male": ("Văn", "Đức", "Minh", "Quốc", "Hữu", "Công", "Thành", "Xuân", "Quang", "Đình", "Gia", "Tuấn"),
    "female": ("Thị", "Ngọc", "Thu", "Thanh", "Kim", "Phương", "Hồng", "Bảo", "Diệu", "Mỹ", "Thuỳ", "Khánh"),
}
GIVEN_NAMES = {
    "male": (
        "An", "Bình", "Cường", "Dũng", "Đạt", "Hải", "Hiếu", "Hoàng", "Hùng", "Huy", "Khang", "Khoa", "Long",
        "Lâm", "Nam", "Nghĩa", "Phúc", "Quân", "Sơn", "Tâm", "Thắng", "Thịnh", "Trung", "Tú", "Tuấn", "Việt",
        "Vinh", "Hưng", "Đông", "Kiên", "Lộc", "Phong",
    ),
    "female": (
        "Anh", "Chi", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hoa", "Hoà", "Hương", "Huyền", "Lan", "Linh",
        "Loan", "Mai", "My", "Nga", "Ngân", "Nhung", "Oanh", "Phương", "Quỳnh", "Thảo", "Thư", "Thủy", "Trang",
        "Tuyết", "Uyên", "Vân", "Yến", "Hiền", "Ly",
    ),
}  # fmt: skip
# ISO 3166 numeric codes of countries many Vietnamese are born in; never collide with 0PP province prefixes.
BIRTH_COUNTRIES = ("840", "410", "392", "276", "250", "124", "643", "158", "702")


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def century_sex_digit(year: int, sex: str) -> str:
    """Digit 4 of the ID number: 0/1 for 1900s male/female, 2/3 for 2000s, 4/5 for 2100s ..."""
    return str(2 * ((year - 1900) // 100) + (1 if sex == "female" else 0))


def id_number(prefix: str, year: int, sex: str, serial: int) -> str:
    return f"{prefix}{century_sex_digit(year, sex)}{year % 100:02d}{serial:06d}"


FIXTURES: list[CitizenRecord] = [
    # The applicant the intake tests file dossiers for.
    CitizenRecord(
        "001090123456", "Nguyễn Văn An", date(1990, 5, 14), 1990, "male", "00001",
        "Số 12 phố Phúc Xá, Phường Phúc Xá, Quận Ba Đình, Thành phố Hà Nội",
    ),
    # Registered with the birth year only.
    CitizenRecord(
        "079185001234", "Trần Thị Bích", None, 1985, "female", "26734",
        "Số 45 đường Hai Bà Trưng, Phường Tân Định, Quận 1, Thành phố Hồ Chí Minh",
    ),
    # Born abroad (United States): a country prefix, not a province code.
    CitizenRecord(
        "840203004567", "Lê Minh Khôi", date(2003, 2, 11), 2003, "male", "00004",
        "Số 8 phố Trúc Bạch, Phường Trúc Bạch, Quận Ba Đình, Thành phố Hà Nội",
    ),
    # Still carries an old 9-digit CMND number.
    CitizenRecord(
        "031075009876", "Phạm Quốc Hùng", date(1975, 9, 2), 1975, "male", "11365",
        "Số 3 phố Lạch Tray, Phường Lạch Tray, Quận Ngô Quyền, Thành phố Hải Phòng", cmnd_number="031234567",
    ),
    # Typed without diacritics at a counter this reads "Dang Thi Hoa".
    CitizenRecord(
        "040198005555", "Đặng Thị Hoà", date(1998, 11, 2), 1998, "female", "16681",
        "Số 7 đường Quang Trung, Phường Quang Trung, Thành phố Vinh, Tỉnh Nghệ An",
    ),
]  # fmt: skip


@cache
def _legacy_units() -> tuple[list[tuple[str, str, int]], list[int]]:
    """(legacy ward code, its full name, province code) for every legacy ward, and the legacy province codes."""
    from vietnam_provinces.legacy._lookup import DISTRICT_MAPPING, PROVINCE_MAPPING, WARD_MAPPING

    districts = {int(code): district.name for code, district in DISTRICT_MAPPING.items()}
    provinces = {int(code): province.name for code, province in PROVINCE_MAPPING.items()}
    wards = []
    for code in sorted(int(code) for code in WARD_MAPPING):
        ward = WARD_MAPPING[code]
        province = int(ward.province_code)
        name = ", ".join(
            part for part in (ward.name, districts.get(int(ward.district_code)), provinces.get(province)) if part
        )
        wards.append((f"{code:05d}", name, province))
    return wards, sorted(provinces)


def generate_population(size: int = 10_000, seed: int = 2025) -> list[CitizenRecord]:
    """FIXTURES plus `size` synthetic citizens, the same for the same seed: ~5% registered with the year only,
    ~2% born abroad, some with a CMND number; residence as a legacy ward code."""
    rng = random.Random(seed)
    wards, province_codes = _legacy_units()
    family_names = [name for name, _ in FAMILY_NAMES]
    family_weights = [weight for _, weight in FAMILY_NAMES]
    people = list(FIXTURES)
    taken = {person.id_number for person in people}
    while len(people) < size + len(FIXTURES):
        sex = rng.choice(("male", "female"))
        year = rng.randint(1935, 2010)
        birth = date(year, 1, 1) + timedelta(days=rng.randrange(365))
        ward_code, ward_name, province = rng.choice(wards)
        if rng.random() < 0.02:
            prefix = rng.choice(BIRTH_COUNTRIES)
        else:
            prefix = f"{(province if rng.random() < 0.8 else rng.choice(province_codes)):03d}"
        number = id_number(prefix, year, sex, rng.randrange(1_000_000))
        if number in taken:
            continue
        taken.add(number)
        name = " ".join(
            (rng.choices(family_names, family_weights)[0], rng.choice(MIDDLE_NAMES[sex]), rng.choice(GIVEN_NAMES[sex]))
        )
        cmnd = f"{rng.randrange(10**9):09d}" if year < 2000 and rng.random() < 0.3 else None
        people.append(
            CitizenRecord(
                id_number=number,
                full_name=_nfc(name),
                birth_date=None if rng.random() < 0.05 else birth,
                birth_year=year,
                sex=sex,  # type: ignore[arg-type]
                residence_legacy_ward=ward_code,
                residence_address=f"Số {rng.randint(1, 300)}, {ward_name}",
                cmnd_number=cmnd,
            )
        )
    return people


def _same_name(a: str, b: str) -> bool:
    return " ".join(_nfc(a).casefold().split()) == " ".join(_nfc(b).casefold().split())


def _same_birth(record: CitizenRecord, query: CitizenQuery) -> bool:
    if record.birth_date is not None and query.birth_date is not None:
        return record.birth_date == query.birth_date
    return record.birth_year == (query.birth_year or (query.birth_date.year if query.birth_date else None))


# --- the server --------------------------------------------------------------------------------------


@dataclass
class SimulatorState:
    config: SimulatorConfig
    population: dict[str, CitizenRecord]
    signer: EnvelopeSigner
    verifier: EnvelopeVerifier
    queued: deque[str] = field(default_factory=deque)
    wsdl_gets: int = 0
    requests: int = 0
    seen_request_ids: list[str] = field(default_factory=list)
    _wrong_signer: EnvelopeSigner | None = None

    def next_fault(self) -> str | None:
        return self.queued.popleft() if self.queued else self.config.fault

    def wrong_signer(self) -> EnvelopeSigner:
        """A key nobody pins, made on first use."""
        if self._wrong_signer is None:
            self._wrong_signer = EnvelopeSigner(*generate_pair("kẻ mạo danh (simulator wrong_key)"))
        return self._wrong_signer


STATE = web.AppKey("simulator_state", SimulatorState)


def _xml(envelope: etree._Element, status: int = 200) -> web.Response:
    body = etree.tostring(envelope, xml_declaration=True, encoding="utf-8")
    return web.Response(body=body, status=status, content_type="text/xml", charset="utf-8")


def _fault(message: str, code: str = "Client") -> web.Response:
    return _xml(build_fault(code, message), status=500)  # type: ignore[arg-type]


async def wsdl(request: web.Request) -> web.Response:
    if "wsdl" not in request.query:
        raise web.HTTPNotFound(text="GET /?wsdl for the WSDL; SOAP requests are POSTed to /")
    state = request.app[STATE]
    state.wsdl_gets += 1
    document = etree.parse(str(WSDL_PATH), etree.XMLParser(remove_comments=False))
    address = document.find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address")
    assert address is not None
    address.set("location", str(request.url.with_query(None)))
    return _xml(document.getroot())


def _answer(state: SimulatorState, operation: Operation, query: CitizenQuery) -> etree._Element:
    record = state.population.get(query.id_number)
    if operation == "XacThucThongTinCongDan" and record is not None:
        if not (_same_name(record.full_name, query.full_name) and _same_birth(record, query)):
            record = None
    return build_answer(operation, query.request_id, datetime.now(VN_TZ), record)


def _tamper(envelope: etree._Element) -> None:
    """Change one signed field after signing: the answer now says something its signature does not."""
    for name in ("HoVaTen", "TonTai", "ThoiGian"):
        element = envelope.find(f".//{{{TNS}}}{name}")
        if element is not None:
            element.text = {"true": "false", "false": "true"}.get(element.text or "", (element.text or "") + " X")
            return


async def soap(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    state.requests += 1
    fault = state.next_fault()
    if fault == "down":
        return web.Response(status=503)
    if fault == "slow":
        await asyncio.sleep(state.config.slow_seconds)
    if fault == "malformed":
        return web.Response(body=b"<soap:Envelope><Body>\x00garbage", content_type="text/xml")
    data = await request.read()
    try:
        verified = state.verifier.verify(parse_envelope(data))
        operation, query = parse_request(verified.envelope)
    except MalformedRequest as exc:
        return _fault(f"Yêu cầu không đúng WSDL: {exc}")
    except IdentityError as exc:  # unreadable, unsigned, or signed by a key we do not pin
        return _fault(f"Yêu cầu bị từ chối ({exc.code}): {exc}")
    answer = _answer(state, operation, query)
    if fault == "stale":
        answer.find(f".//{{{TNS}}}ThoiGian").text = (datetime.now(VN_TZ) - timedelta(hours=1)).isoformat(  # type: ignore[union-attr]
            timespec="seconds"
        )
    if fault == "replayed":
        earlier = state.seen_request_ids[-1] if state.seen_request_ids else f"cu-{uuid.uuid4()}"
        answer.find(f".//{{{TNS}}}MaYeuCau").text = earlier  # type: ignore[union-attr]
    state.seen_request_ids.append(query.request_id)
    if fault == "unsigned":
        return _xml(answer)
    signed = (state.wrong_signer() if fault == "wrong_key" else state.signer).sign(answer)
    if fault == "tampered":
        _tamper(signed)
    return _xml(signed)


async def queue_faults(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await request.json()
    faults = body.get("next", []) if isinstance(body, dict) else None
    if not isinstance(faults, list) or any(fault not in FAULTS for fault in faults):
        raise web.HTTPBadRequest(text=f'expected {{"next": [...]}} with faults among {", ".join(FAULTS)}')
    state.queued.extend(faults)
    return web.json_response({"queued": list(state.queued)})


async def clear_faults(request: web.Request) -> web.Response:
    request.app[STATE].queued.clear()
    return web.json_response({"queued": []})


async def stats(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response({"wsdl_gets": state.wsdl_gets, "requests": state.requests, "queued": list(state.queued)})


def create_app(config: SimulatorConfig) -> web.Application:
    if config.fault is not None and config.fault not in FAULTS:
        raise ValueError(f"unknown fault {config.fault!r}; one of {', '.join(FAULTS)}")
    app = web.Application()
    app[STATE] = SimulatorState(
        config=config,
        population={person.id_number: person for person in generate_population(config.population_size, config.seed)},
        signer=EnvelopeSigner.from_files(config.key_file, config.cert_file),
        verifier=EnvelopeVerifier.from_files(config.trusted_client_certs),
    )
    app.router.add_get("/", wsdl)
    app.router.add_post("/", soap)
    app.router.add_post("/_simulator/faults", queue_faults)
    app.router.add_delete("/_simulator/faults", clear_faults)
    app.router.add_get("/_simulator/stats", stats)
    return app


async def start_simulator(config: SimulatorConfig, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, str]:
    """Start the simulator on a real socket; returns its runner (await runner.cleanup() to stop) and base URL."""
    runner = web.AppRunner(create_app(config), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = runner.addresses[0][1]
    return runner, f"http://{host}:{bound_port}/"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m identity.simulator", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--keys-dir", type=Path, default=Path(".data/keys"), help="created with demo keys if missing")
    parser.add_argument("--fault", choices=FAULTS, help="apply this fault to every request")
    parser.add_argument("--population-size", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--slow-seconds", type=float, default=5)
    args = parser.parse_args(argv)
    keys = create_demo_keys(args.keys_dir)
    config = SimulatorConfig(
        key_file=keys["register.key"],
        cert_file=keys["register.crt"],
        trusted_client_certs=(keys["gateway.crt"],),
        fault=args.fault,
        population_size=args.population_size,
        seed=args.seed,
        slow_seconds=args.slow_seconds,
    )
    print(f"population-database simulator on http://{args.host}:{args.port}/ (WSDL at ?wsdl)", flush=True)
    web.run_app(create_app(config), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
