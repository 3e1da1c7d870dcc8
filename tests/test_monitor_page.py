"""Integration (real PostgreSQL, the gateway on a real socket): the operators' monitoring page /giam-sat, its
sign-in with an admin key and session cookie, and its figures (page and JSON) against dossiers made through the
API. How it looks and updates itself in a browser is in test_monitor_browser.py."""

import html
import json
import re
import time
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie

import pytest
import structlog

from gateway.app import create_app
from gateway.keys import SERVICES
from gateway.pages.monitor import MONITOR_POLICY
from gateway.pages.operator import COOKIE, SESSION_PURPOSE
from gateway.pages.render import POLICY
from gateway.security import Sealer, key_prefix
from gateway.store import clients
from gateway.workflow.overdue import scan_overdue
from tests.conftest import SECRET
from tests.samples import counter_dossier, file_dossier, postal_dossier

PAGE, LOGIN, LOGOUT, DATA = "/giam-sat", "/giam-sat/dang-nhap", "/giam-sat/dang-xuat", "/giam-sat/du-lieu"
HA_NOI, DA_NANG = "000.00.10.H26", "000.00.10.H17"


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def _table(page: str, key: str) -> list[list[str]]:
    """The cells of one table of the page, as a reader sees them."""
    body = re.search(rf'<tbody data-bang="{key}"[^>]*>(.*?)</tbody>', page, re.S).group(1)
    return [
        [_text(cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


async def _sign_in(client, key: str, **kwargs):
    return await client.post(LOGIN, data={"khoa": key}, allow_redirects=False, **kwargs)


def _cookie(answer) -> SimpleCookie:
    jar = SimpleCookie()
    for header in answer.headers.getall("Set-Cookie", []):
        jar.load(header)
    return jar


async def test_without_a_session_the_page_asks_for_a_key(client):
    answer = await client.get(PAGE, allow_redirects=False)
    assert answer.status == 303 and answer.headers["Location"] == LOGIN
    form = await client.get(PAGE)  # followed: the sign-in form
    page = await form.text()
    assert form.status == 200 and str(form.url).endswith(LOGIN)
    assert form.headers["Content-Security-Policy"] == POLICY and form.headers["Cache-Control"] == "no-store"
    assert '<html lang="vi">' in page and "Đăng nhập trang giám sát" in page and "Khóa truy cập" in page
    assert 'type="password"' in page and 'method="post"' in page
    data = await client.get(DATA)
    problem = await data.json(content_type=None)
    assert data.status == 401 and problem["code"] == "operator.session"
    assert "WWW-Authenticate" not in data.headers  # a cookie session, not a Bearer scheme


async def test_wrong_and_non_admin_keys_get_the_form_again_and_no_session(client, orgs):
    for key, status, words in (
        (orgs.admin.key[:-4] + "AAAA", 401, "Khóa truy cập không đúng hoặc đã bị thu hồi"),
        ("không phải khóa", 401, "Khóa truy cập không đúng hoặc đã bị thu hồi"),
        ("", 400, "Vui lòng dán khóa truy cập"),
        (orgs.postal.key, 403, "vai trò 'postal'"),
        (orgs.agency.key, 403, "vai trò 'agency'"),
    ):
        answer = await _sign_in(client, key)
        page = await answer.text()
        assert answer.status == status and answer.content_type == "text/html", (key, status)
        assert words in _text(page) and 'role="alert"' in page and "<form" in page
        assert "Set-Cookie" not in answer.headers
        assert answer.headers["Content-Security-Policy"] == POLICY
        if key:
            assert key not in page  # what was typed is not written back
    assert (await client.get(PAGE, allow_redirects=False)).status == 303
    other = await client.post(LOGIN, json={"khoa": orgs.admin.key}, allow_redirects=False)
    assert other.status == 415 and "Set-Cookie" not in other.headers


async def test_an_admin_key_opens_a_session_with_a_strict_cookie(client, orgs):
    with structlog.testing.capture_logs() as logs:
        answer = await _sign_in(client, orgs.admin.key)
    assert answer.status == 303 and answer.headers["Location"] == PAGE
    assert answer.headers["Cache-Control"] == "no-store"
    morsel = _cookie(answer)[COOKIE]
    assert morsel["httponly"] is True and morsel["samesite"] == "Strict" and morsel["path"] == PAGE
    assert morsel["max-age"] == str(8 * 3600) and not morsel["secure"]  # plain http here
    assert orgs.admin.key not in morsel.value and key_prefix(orgs.admin.key) not in morsel.value  # sealed
    assert orgs.admin.key not in repr(logs)

    page = await client.get(PAGE)
    shown = await page.text()
    assert page.status == 200 and page.content_type == "text/html"
    assert page.headers["Content-Security-Policy"] == MONITOR_POLICY == POLICY + "; connect-src 'self'"
    assert "default-src 'none'" in POLICY
    assert page.headers["Cache-Control"] == "no-store"
    assert '<html lang="vi">' in shown and "Giám sát vận hành" in shown and "Vận hành" in shown  # the org's name
    for heading in ("Tỷ lệ giải quyết đúng hạn", "Hồ sơ quá hạn", "Thông điệp bị dừng gửi", "Hàng đợi và đồng bộ"):
        assert heading in shown
    sources = re.findall(r'(?:src|href)="([^"]+)"', shown)
    assert "/tai-nguyen/giam-sat.js" in sources and all(source.startswith("/") for source in sources), sources
    assert '<meta http-equiv="refresh"' in shown.split("<noscript>", 1)[1]  # only without JavaScript
    script = await client.get("/tai-nguyen/giam-sat.js")
    assert script.status == 200 and script.content_type == "text/javascript"
    assert "fetch(" in await script.text()
    # Signed in, the form sends the operator on to the page.
    assert (await client.get(LOGIN, allow_redirects=False)).headers["Location"] == PAGE


async def test_the_cookie_is_secure_when_the_public_address_is_https(aiohttp_client, settings, orgs):
    app = create_app(
        settings.model_copy(update={"public_url": "https://motcua.example.vn", "operator_session_hours": 2})
    )
    client = await aiohttp_client(app)
    morsel = _cookie(await _sign_in(client, orgs.admin.key))[COOKIE]
    assert morsel["secure"] is True and morsel["max-age"] == str(2 * 3600)


async def _with_cookie(client, value: str, path: str = PAGE):
    client.session.cookie_jar.clear()
    return await client.get(path, headers={"Cookie": f"{COOKIE}={value}"}, allow_redirects=False)


async def test_forged_expired_and_revoked_sessions_go_back_to_the_form(client, orgs, db):
    sealer = Sealer(SECRET.encode(), SESSION_PURPOSE)
    admin_session = {"org": orgs.admin.id, "key": key_prefix(orgs.admin.key)}
    fresh = sealer.seal(json.dumps(admin_session).encode()).decode()
    assert (await _with_cookie(client, fresh)).status == 200
    expired = sealer.seal(json.dumps(admin_session).encode(), at=int(time.time()) - 8 * 3600 - 60).decode()
    other_purpose = Sealer(SECRET.encode(), b"receipt-links").seal(json.dumps(admin_session).encode()).decode()
    for value in ("forged", fresh[:-6] + "AAAAAA", expired, other_purpose):
        answer = await _with_cookie(client, value)
        assert answer.status == 303 and answer.headers["Location"] == LOGIN, value
        assert (await _with_cookie(client, value, DATA)).status == 401

    # A session sealed for a postal organisation's key: refused as the role, not shown the figures.
    postal = sealer.seal(json.dumps({"org": orgs.postal.id, "key": key_prefix(orgs.postal.key)}).encode()).decode()
    refused = await _with_cookie(client, postal)
    assert refused.status == 403 and "vai trò 'postal'" in _text(await refused.text())
    assert (await _with_cookie(client, postal, DATA)).status == 403
    # A session naming a key of another organisation is no session.
    mixed = sealer.seal(json.dumps({"org": orgs.admin.id, "key": key_prefix(orgs.postal.key)}).encode()).decode()
    assert (await _with_cookie(client, mixed)).status == 303

    # Revoking the key ends the session at the next request.
    client.session.cookie_jar.clear()
    assert (await _sign_in(client, orgs.admin.key)).status == 303
    assert (await client.get(PAGE, allow_redirects=False)).status == 200
    assert await clients.revoke_key(db, key_prefix(orgs.admin.key))
    assert (await client.get(PAGE, allow_redirects=False)).headers["Location"] == LOGIN
    assert (await client.get(DATA)).status == 401


async def test_signing_out_clears_the_cookie(client, orgs):
    await _sign_in(client, orgs.admin.key)
    assert (await client.get(PAGE, allow_redirects=False)).status == 200
    answer = await client.post(LOGOUT, allow_redirects=False)
    assert answer.status == 303 and answer.headers["Location"] == LOGIN
    morsel = _cookie(answer)[COOKIE]
    assert morsel.value == "" and morsel["path"] == PAGE and morsel["max-age"] == "0"
    assert (await client.get(PAGE, allow_redirects=False)).status == 303


@pytest.fixture
async def strict_client(aiohttp_client, settings):
    return await aiohttp_client(create_app(settings.model_copy(update={"tracking_max_failures": 1})))


async def test_wrong_keys_are_limited_per_address(strict_client, orgs):
    """Ten wrong keys (the per-address allowance with MOTCUA_TRACKING_MAX_FAILURES=1) and even the right key waits;
    wrong PINs on /tra-cuu from the same address do not count toward it."""
    await strict_client.post("/tra-cuu", data={"ma": "000.00.10.H26-991231-9999", "pin": "000000"})
    for attempt in range(10):
        assert (await _sign_in(strict_client, f"mc_000000000000_sai{attempt}")).status == 401
    limited = await _sign_in(strict_client, orgs.admin.key)
    assert limited.status == 429 and limited.headers["Retry-After"] == "900"
    assert "quá nhiều lần" in _text(await limited.text()) and "Set-Cookie" not in limited.headers


# --- the figures ---------------------------------------------------------------------------------------------


def _lives_in_da_nang(body: dict) -> dict:
    body["applicant"]["residence"] = {"unit_code": "20194", "address_line": "5 Nguyễn Văn Cừ"}
    return body


async def _event(client, org, code: str, event_type: str, **fields) -> None:
    answer = await client.post(
        f"/v1/agency/dossiers/{code}/events", json={"type": event_type, **fields}, headers=org.auth
    )
    assert answer.status == 201, await answer.text()


async def _make_dossiers(client, orgs, db) -> dict[str, str]:
    """Eight dossiers for two agencies in two provinces, filed in two provinces (post office in Hà Nội, counter
    in Đà Nẵng):

    | name | agency  | filed   | what happened                                               |
    | a1   | Hà Nội  | Hà Nội  | result on time                                              |
    | a2   | Hà Nội  | Đà Nẵng | result an hour after its appointment: late                  |
    | a3   | Hà Nội  | Hà Nội  | result on time, then returned                               |
    | a4   | Hà Nội  | Hà Nội  | processing, 2 days overdue, marked by the overdue scan      |
    | a5   | Hà Nội  | Đà Nẵng | overdue, apology (form 04), result before the new date: late |
    | b1   | Đà Nẵng | Đà Nẵng | result on time                                              |
    | b2   | Đà Nẵng | Hà Nội  | processing, 3 hours overdue, not marked yet                 |
    | b3   | Đà Nẵng | Đà Nẵng | result 15 days ago, on time (outside a 7-day window)        |
    """
    services = client.server.app[SERVICES]
    plans = {
        "a1": (orgs.postal, postal_dossier()),
        "a2": (orgs.counter, counter_dossier()),
        "a3": (orgs.postal, postal_dossier()),
        "a4": (orgs.postal, postal_dossier()),
        "a5": (orgs.counter, counter_dossier()),
        "b1": (orgs.counter, _lives_in_da_nang(counter_dossier())),
        "b2": (orgs.postal, _lives_in_da_nang(postal_dossier())),
        "b3": (orgs.counter, _lives_in_da_nang(counter_dossier())),
    }
    codes = {}
    for name, (submitter, body) in plans.items():
        codes[name] = (await file_dossier(client, submitter, body, f"giam-sat-{name}"))["code"]
    agency_of = {name: orgs.agency if name[0] == "a" else orgs.other_agency for name in codes}
    assert all(codes[n].startswith(HA_NOI if n[0] == "a" else DA_NANG) for n in codes), codes
    now = datetime.now(UTC)

    # b3: received 20 days ago, due 10 days ago, result 15 days ago.
    await db.execute(
        "UPDATE dossiers SET received_at = $2, appointment_at = $3 WHERE code = $1",
        codes["b3"],
        now - timedelta(days=20),
        now - timedelta(days=10),
    )
    await _event(client, agency_of["b3"], codes["b3"], "accepted", occurred_at=(now - timedelta(days=16)).isoformat())
    await _event(
        client, agency_of["b3"], codes["b3"], "result_ready", occurred_at=(now - timedelta(days=15)).isoformat()
    )
    for name in ("a1", "a2", "a3", "a4", "a5", "b1", "b2"):
        await _event(client, agency_of[name], codes[name], "accepted")

    # a4 and a5 become overdue and the scan marks them; a5 gets an apology and a later date, then its result.
    for name in ("a4", "a5"):
        await db.execute(
            "UPDATE dossiers SET appointment_at = $2 WHERE code = $1", codes[name], now - timedelta(days=2)
        )
    async with services.connection() as conn:
        assert await scan_overdue(services, conn) == 2
    later = (now + timedelta(days=30)).isoformat()
    await _event(client, orgs.agency, codes["a5"], "apology", new_appointment_at=later)
    await _event(client, orgs.agency, codes["a5"], "result_ready")

    for name in ("a1", "a3", "b1"):
        await _event(client, agency_of[name], codes[name], "result_ready")
    await _event(client, orgs.agency, codes["a3"], "returned")
    await db.execute("UPDATE dossiers SET appointment_at = now() - interval '1 hour' WHERE code = $1", codes["a2"])
    await _event(client, orgs.agency, codes["a2"], "result_ready")
    await db.execute("UPDATE dossiers SET appointment_at = now() - interval '3 hours' WHERE code = $1", codes["b2"])
    return codes


async def _outbox_trouble(db, codes: dict[str, str]) -> None:
    """No portal is configured, so every dossier's sync waits: b2's is dead-lettered (as the worker does past the
    retry budget), the oldest waiting sync and delivery are dated back, and the portal refused a1 last time."""
    await db.execute(
        "UPDATE outbox SET status = 'dead', attempts = 7, last_error = $2"
        " WHERE kind = 'dvcqg.sync_dossier' AND dossier_id = (SELECT id FROM dossiers WHERE code = $1)",
        codes["b2"],
        "Cổng DVCQG không trả lời: " + "x" * 400,
    )
    for kind, hours in (("dvcqg.sync_dossier", 3), ("agency.deliver", 2)):
        await db.execute(
            "UPDATE outbox SET created_at = now() - make_interval(hours => $2)"
            " WHERE id = (SELECT min(id) FROM outbox WHERE kind = $1 AND status = 'pending')",
            kind,
            hours,
        )
    await db.execute(
        "INSERT INTO dvcqg_sync (dossier_id, last_error) SELECT id, $2 FROM dossiers WHERE code = $1",
        codes["a1"],
        "MaHoSo đã tồn tại",
    )


async def test_the_figures_are_those_of_the_dossiers(client, orgs, db):
    codes = await _make_dossiers(client, orgs, db)
    await _outbox_trouble(db, codes)
    await _sign_in(client, orgs.admin.key)
    figures = await (await client.get(DATA)).json()

    assert figures["window_days"] == 30
    assert figures["totals"] == {"finished": 6, "on_time": 4, "late": 2, "rate": 66.7, "overdue": 2}
    agencies = {row["agency_code"]: row for row in figures["agencies"]}
    assert agencies[HA_NOI] == {
        "agency_code": HA_NOI,
        "name": "Sở Tư pháp thành phố Hà Nội",
        "province": "Thành phố Hà Nội",
        "finished": 4,
        "on_time": 2,
        "late": 2,
        "rate": 50.0,
        "overdue": 1,
    }
    assert agencies[DA_NANG] == {
        "agency_code": DA_NANG,
        "name": "Sở Tư pháp thành phố Đà Nẵng",
        "province": "Thành phố Đà Nẵng",
        "finished": 2,
        "on_time": 2,
        "late": 0,
        "rate": 100.0,
        "overdue": 1,
    }
    assert list(agencies) == [HA_NOI, DA_NANG]  # the worse on-time rate first

    def counts(rows):
        return {r["province_code"]: (r["finished"], r["on_time"], r["late"], r["rate"], r["overdue"]) for r in rows}

    assert counts(figures["provinces"]) == {"01": (4, 2, 2, 50.0, 1), "48": (2, 2, 0, 100.0, 1)}
    assert counts(figures["filed_provinces"]) == {"01": (2, 2, 0, 100.0, 2), "48": (4, 2, 2, 50.0, 0)}

    overdue = figures["overdue"]
    assert overdue["total"] == 2 and [item["code"] for item in overdue["items"]] == [codes["a4"], codes["b2"]]
    a4, b2 = overdue["items"]
    assert (a4["overdue_marked"], a4["apologies"], b2["overdue_marked"], b2["apologies"]) == (True, 0, False, 0)
    assert 2 * 86400 <= a4["late_seconds"] < 2 * 86400 + 120 and 3 * 3600 <= b2["late_seconds"] < 3 * 3600 + 120
    assert a4["procedure_code"] == "2.000488" and a4["procedure"].startswith("Cấp Phiếu lý lịch tư pháp")
    assert b2["agency"] == "Sở Tư pháp thành phố Đà Nẵng"

    dead = figures["dead_letters"]
    assert dead["total"] == 1
    assert dead["by_kind"] == [
        {"kind": "dvcqg.sync_dossier", "label": "Đồng bộ Cổng Dịch vụ công quốc gia", "messages": 1}
    ]
    (letter,) = dead["latest"]
    assert letter["dossier_code"] == codes["b2"] and letter["attempts"] == 7
    assert len(letter["last_error"]) == 200 and letter["last_error"].startswith("Cổng DVCQG không trả lời: xxx")

    pending_deliveries = await db.fetchval(
        "SELECT count(*) FROM outbox WHERE kind = 'agency.deliver' AND status = 'pending'"
    )
    sync = figures["sync"]
    assert sync["portal"]["pending"] == 7 and sync["portal"]["dead"] == 1  # one per dossier; b2's is dead
    assert 3 * 3600 <= sync["portal"]["oldest_seconds"] < 3 * 3600 + 120
    assert sync["delivery"]["pending"] == pending_deliveries > 0 and sync["delivery"]["dead"] == 0
    assert 2 * 3600 <= sync["delivery"]["oldest_seconds"] < 2 * 3600 + 120
    assert sync["failed_total"] == 1 and sync["failed"][0]["dossier_code"] == codes["a1"]
    assert sync["failed"][0]["last_error"] == "MaHoSo đã tồn tại"

    # The page shows the same figures, as the JSON's `display` writes them.
    answer = await client.get(PAGE)
    page = await answer.text()
    shown = _text(page)
    display = (await (await client.get(DATA)).json())["display"]
    for key, rows in display["tables"].items():
        assert _table(page, key) == [row["cells"] for row in rows], key
    assert _table(page, "agencies")[0] == [
        "Sở Tư pháp thành phố Hà Nội",
        "Thành phố Hà Nội",
        "4",
        "2",
        "2",
        "50,0 %",
        "1",
    ]
    first, second = _table(page, "overdue")
    assert first[0] == codes["a4"] and first[4:] == ["2 ngày", "Có", "Chưa"]
    assert second[0] == codes["b2"] and second[4:] == ["3 giờ", "Chưa", "Chưa"]
    assert _table(page, "lag") == [
        ["Đồng bộ Cổng Dịch vụ công quốc gia", "7", "3 giờ", "1"],
        ["Chuyển hồ sơ đến cơ quan giải quyết", str(pending_deliveries), "2 giờ", "0"],
    ]
    for figure in ("66,7 %", "Cập nhật lúc", "Tổng số 2 hồ sơ."):
        assert figure in shown
    assert display["figures"]["rate"] == "66,7 %" and display["figures"]["dead"] == "1"
    assert re.fullmatch(r"\d\d:\d\d:\d\d ngày \d\d/\d\d/20\d\d", display["figures"]["updated"])
    # No personal data of the applicants anywhere on it.
    assert "001090123456" not in page and "0912345678" not in page and "Nguyễn Văn An" not in page


async def test_the_window_chooses_which_results_count(client, orgs, db):
    await _make_dossiers(client, orgs, db)
    await _sign_in(client, orgs.admin.key)
    week = await (await client.get(DATA, params={"ngay": "7"})).json()
    assert week["window_days"] == 7
    assert week["totals"] == {"finished": 5, "on_time": 3, "late": 2, "rate": 60.0, "overdue": 2}
    assert {r["agency_code"]: r["finished"] for r in week["agencies"]} == {HA_NOI: 4, DA_NANG: 1}
    quarter = await (await client.get(DATA, params={"ngay": "90"})).json()
    assert quarter["window_days"] == 90 and quarter["totals"]["finished"] == 6
    odd = await (await client.get(DATA, params={"ngay": "365"})).json()
    assert odd["window_days"] == 30  # only the offered windows; anything else is the default
    page = await (await client.get(PAGE, params={"ngay": "7"})).text()
    assert 'href="/giam-sat?ngay=7" aria-current="page"' in page and 'data-du-lieu="/giam-sat/du-lieu?ngay=7"' in page
    assert "60,0 %" in _text(page)


async def test_an_empty_gateway_shows_empty_tables_and_the_json_headers(client, orgs):
    await _sign_in(client, orgs.admin.key)
    answer = await client.get(DATA)
    figures = await answer.json()
    assert answer.headers["Cache-Control"] == "no-store" and answer.content_type == "application/json"
    assert figures["totals"] == {"finished": 0, "on_time": 0, "late": 0, "rate": None, "overdue": 0}
    assert figures["agencies"] == [] and figures["overdue"] == {"total": 0, "limit": 200, "items": []}
    page = await (await client.get(PAGE)).text()
    assert "Không có hồ sơ quá hạn." in page and "Chưa có hồ sơ nào có kết quả" in page
    assert _table(page, "lag") == [
        ["Đồng bộ Cổng Dịch vụ công quốc gia", "0", "—", "0"],
        ["Chuyển hồ sơ đến cơ quan giải quyết", "0", "—", "0"],
    ]


async def test_the_key_never_appears_in_an_answer(client, orgs, db):
    await _make_dossiers(client, orgs, db)
    seen = []
    for answer in (
        await _sign_in(client, orgs.admin.key),
        await client.get(PAGE),
        await client.get(DATA),
        await client.get(LOGIN),
        await _sign_in(client, orgs.postal.key),
        await client.post(LOGOUT, allow_redirects=False),
    ):
        seen.append(str(answer.url) + repr(list(answer.headers.items())) + await answer.text())
    for key in (orgs.admin.key, orgs.postal.key):
        assert all(key not in text for text in seen)
