"""Pure parts of the DVCQG adapter: the status table and its moves (against the gateway's lifecycle), portal times,
request builders against the vendor samples and the simulator's required fields, answer and batch-outcome parsing
(partial failure, already exists), look-ups, logins, and the online dossier push shape."""

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from adapters.dvcqg import messages, online, status
from adapters.dvcqg.errors import (
    AlreadyExists,
    MalformedAnswer,
    PortalError,
    PortalRejected,
    PortalUnavailable,
    SessionRejected,
)
from adapters.dvcqg.settings import PortalConfig
from adapters.dvcqg.simulator import REQUIRED_DOSSIER, REQUIRED_PROGRESS
from adapters.dvcqg.status import FINAL, PortalStatus, can_move, transition_problem
from gateway import schemas
from gateway.workflow import lifecycle

VENDOR = Path(__file__).resolve().parent.parent / "adapters" / "dvcqg" / "vendor"
VN = messages.VN_TZ
CONFIG = PortalConfig(
    url="http://127.0.0.1:1", username="motcua-hn", password="mat-khau-mau", unit_code="000.00.00.H26"
)
SHA = (
    "5f1c0c9a0f6a4c1d2e3b4a5968778695a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9",
    "9e8d7c6b5a4938271605f4e3d2c1b0a99887766554433221100ffeeddccbbaa0",
)
DOCUMENTS = "https://motcua.example.vn/v1/documents/"
PROCEDURE = "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam"


def _sample(name: str) -> Any:
    return json.loads((VENDOR / name).read_text(encoding="utf-8"))


def _vn(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=VN)


RECEIVED = messages.DossierRecord(
    code="000.00.10.H26-260115-0001",
    procedure_code="1.001234",
    procedure_name=PROCEDURE,
    sector_code="G12-TP10",
    channel="postal",
    owner_name="Nguyễn Văn An",
    owner_id_number="001090012345",
    received_at=_vn(2026, 1, 15, 9, 30),
    appointment_at=_vn(2026, 1, 26, 17, 0),
    status=2,
    return_method="postal",
    handling_unit="000.00.10.H26",
    documents=(
        messages.Document(
            name="Tờ khai yêu cầu cấp Phiếu lý lịch tư pháp",
            sha256=SHA[0],
            url=DOCUMENTS + SHA[0],
            component_code="TK01",
        ),
    ),
    fees=(messages.Fee(name="Lệ phí cấp Phiếu lý lịch tư pháp", amount=200_000),),
)
RETURNED = messages.DossierRecord(
    code="000.00.10.H26-260112-0007",
    procedure_code="1.001234",
    procedure_name=PROCEDURE,
    sector_code="G12-TP10",
    channel="counter",
    owner_name="Trần Thị Bình",
    owner_id_number="079185004321",
    received_at=_vn(2026, 1, 12, 14, 5),
    appointment_at=_vn(2026, 1, 22, 17, 0),
    status=10,
    returned_at=_vn(2026, 1, 21, 10, 15),
    handling_unit="000.00.10.H26",
    supplements=(
        messages.Supplement(
            reference="bs-1",
            requested_by="Lê Văn Cường",
            content="Bổ sung bản sao giấy khai sinh",
            requested_at=_vn(2026, 1, 13, 8, 45),
            received_at=_vn(2026, 1, 14, 15, 0),
            appointment_before=_vn(2026, 1, 22, 17, 0),
            appointment_after=_vn(2026, 1, 22, 17, 0),
        ),
    ),
    results=(
        messages.ResultDocument(
            name="Phiếu lý lịch tư pháp số 1", sha256=SHA[1], url=DOCUMENTS + SHA[1], code="KQ.1.001234"
        ),
    ),
)
ROWS = (
    messages.ProgressRow(
        code=RECEIVED.code,
        officer="Phạm Thị Dung",
        title="Chuyên viên",
        at=_vn(2026, 1, 15, 9, 30),
        department="Bộ phận Một cửa",
        content="Tiếp nhận hồ sơ qua bưu chính công ích",
        status=2,
        started_at=_vn(2026, 1, 15, 9, 30),
        due_at=_vn(2026, 1, 26, 17, 0),
    ),
    messages.ProgressRow(
        code=RECEIVED.code,
        officer="Lê Văn Cường",
        title="Chuyên viên",
        at=_vn(2026, 1, 16, 8, 10),
        department="Phòng Hành chính tư pháp",
        content="Thụ lý, thẩm định hồ sơ",
        status=4,
    ),
)


# Statuses and their moves.


@pytest.mark.parametrize(
    ("code", "label"),
    [
        (1, "Mới đăng ký"),
        (2, "Được tiếp nhận"),
        (3, "Không được tiếp nhận"),
        (4, "Đang xử lý"),
        (5, "Yêu cầu bổ sung giấy tờ"),
        (6, "Yêu cầu thực hiện nghĩa vụ tài chính"),
        (7, "Công dân yêu cầu rút hồ sơ"),
        (8, "Dừng xử lý"),
        (9, "Đã xử lý xong"),
        (10, "Đã trả kết quả"),
    ],
)
def test_every_portal_status_has_its_vietnamese_label(code, label):
    assert status.label(code) == label == status.LABELS[PortalStatus(code)]


def test_unknown_status_codes_are_named_and_never_move():
    assert status.label(11) == "Trạng thái 11"
    assert not can_move(4, 11) and not can_move(11, 4) and not can_move(0, 0) and not can_move(4, [4])
    assert transition_problem(4, 11) == "Trạng thái hồ sơ (TrangThaiHoSo) phải là số từ 1 đến 10: 11."


@pytest.mark.parametrize(
    ("current", "new", "accepted"),
    [
        # One step of the lifecycle.
        (2, 4, True),
        (4, 5, True),
        (5, 4, True),
        (4, 6, True),
        (6, 4, True),
        (4, 8, True),
        (5, 8, True),
        (6, 8, True),
        (2, 3, True),
        (2, 5, True),
        (4, 9, True),
        (9, 10, True),
        (1, 2, True),
        (1, 3, True),
        *((open_status, 7, True) for open_status in (1, 2, 4, 5, 6)),
        # Several steps at once: the sync saw only the latest status.
        (2, 9, True),
        (2, 10, True),
        (5, 10, True),
        (1, 10, True),
        # The same status again: a retry, or received → forwarded.
        *((same, same, True) for same in range(1, 11)),
        # Backwards.
        (4, 2, False),
        (5, 2, False),
        (9, 4, False),
        (9, 5, False),
        (9, 7, False),
        (2, 1, False),
        # Out of a final status.
        *((final, new, False) for final in (3, 7, 8, 10) for new in range(1, 11) if new != final),
    ],
)
def test_status_moves(current, new, accepted):
    assert can_move(current, new) is accepted
    problem = transition_problem(current, new)
    assert (problem is None) is accepted
    if not accepted:
        assert status.label(current) in problem and status.label(new) in problem
        assert ("trạng thái kết thúc" in problem) is (current in FINAL)


def test_every_move_of_the_gateway_lifecycle_is_accepted_and_its_finished_statuses_are_final():
    """The contract with gateway/workflow/lifecycle.py: an honest in-order sync is always accepted."""
    moves = {
        (lifecycle.STATUSES[before].dvcqg, lifecycle.STATUSES[transition.to].dvcqg)
        for transition in lifecycle.TRANSITIONS.values()
        if transition.to is not None
        for before in transition.allowed_from
    }
    assert moves and all(can_move(before, after) for before, after in moves)
    assert {lifecycle.STATUSES[name].dvcqg for name in lifecycle.FINISHED} == set(FINAL)
    assert {status.dvcqg for status in lifecycle.STATUSES.values()} <= set(range(1, 11))


# Times.


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2100, 12, 31, 23, 59, 59),
        timezones=st.timezones(),
        allow_imaginary=False,
    )
)
def test_portal_time_round_trips_any_aware_datetime_at_second_precision(moment):
    text = messages.portal_time(moment)
    parsed = messages.parse_portal_time(text)
    assert len(text) == 14 and text.isdigit()
    assert parsed.tzinfo is VN and parsed.utcoffset() == timedelta(hours=7)
    assert parsed.astimezone(UTC) == moment.replace(microsecond=0).astimezone(UTC)


def test_portal_time_is_vietnam_time():
    assert messages.portal_time(datetime(2026, 1, 15, 2, 30, 59, 999_999, tzinfo=UTC)) == "20260115093059"
    assert messages.portal_time(datetime(2026, 1, 14, 20, 0, tzinfo=UTC)) == "20260115030000"
    with pytest.raises(ValueError, match="aware"):
        messages.portal_time(datetime(2026, 1, 15, 9, 30))


@pytest.mark.parametrize(
    "text",
    [
        "2026011509300",
        "202601150930000",
        "2026-01-15 09:30",
        "20261315093000",
        "20260230093000",
        "20260115243000",
        "20260115093060",
        "２０２６０１１５０９３０００",
        "٢٠٢٦٠١١٥٠٩٣٠٠٠",
        " 20260115093000",
        "20260115093000\n",
        "",
        20260115093000,
        None,
    ],
    ids=lambda text: repr(text)[:20],
)
def test_malformed_portal_times_are_refused(text):
    with pytest.raises(ValueError):
        messages.parse_portal_time(text)


# Request builders.


def test_requests_match_the_vendor_samples():
    assert messages.login_request(CONFIG) == _sample("login-request.json")
    assert messages.sync_request([RECEIVED, RETURNED], updating=False, config=CONFIG) == _sample("sync-request.json")
    assert messages.progress_request(ROWS, CONFIG) == _sample("progress-request.json")
    codes = [RECEIVED.code, RETURNED.code, "000.00.10.H26-260115-0099"]
    assert messages.lookup_request(codes, config=CONFIG) == _sample("lookup-request.json")
    assert messages.sync_request([RECEIVED], updating=True, config=CONFIG)["isUpdating"] == "True"


def test_built_requests_carry_every_field_the_portal_requires():
    for record in (RECEIVED, RETURNED):
        fields = messages.dossier_fields(record)
        assert all(isinstance(fields[key], str) and fields[key].strip() for key in REQUIRED_DOSSIER)
        assert messages.dossier_code_problem(fields["MaHoSo"]) is None
    assert messages.dossier_fields(RETURNED)["NgayTra"] == "20260121101500"  # required once returned
    for row in ROWS:
        fields = messages.progress_fields(row)
        assert all(isinstance(fields[key], str) and fields[key].strip() for key in REQUIRED_PROGRESS)
    sync = messages.sync_request([RECEIVED], updating=False, config=CONFIG)
    assert (sync["service"], sync["madonvi"]) == ("DongBoHoSoMC", "000.00.00.H26")
    assert "session" not in sync  # the client adds it


def test_code_lists_map_to_the_portal_strings():
    def field(key, **changes):
        return messages.dossier_fields(dataclasses.replace(RECEIVED, **changes))[key]

    assert [field("KenhThucHien", channel=c) for c in ("counter", "online", "postal")] == ["1", "2", "3"]
    kinds = ("citizen", "business", "agency", "organisation")
    assert [field("LoaiDoiTuong", subject_kind=k) for k in kinds] == ["1", "2", "3", "4"]
    assert [field("HinhThuc", return_method=m) for m in ("counter", "postal")] == ["0", "1"]
    assert field("DanhSachLePhi", fees=(messages.Fee(name="Phí", amount=0, kind="charge"),))[0]["LoaiPhiLePhi"] == "2"
    assert field("NgayHenTra", appointment_at=None) == ""


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"channel": "email"}, "channel"),
        ({"subject_kind": "robot"}, "subject_kind"),
        ({"return_method": "drone"}, "return_method"),
        ({"status": 0}, "TrangThaiHoSo"),
        ({"status": 11}, "TrangThaiHoSo"),
        ({"status": True}, "TrangThaiHoSo"),
        ({"status": "4"}, "TrangThaiHoSo"),
        ({"received_at": datetime(2026, 1, 15, 9, 30)}, "aware"),
        ({"fees": (messages.Fee(name="Lệ phí", amount=-1),)}, "VND"),
    ],
)
def test_builders_refuse_what_cannot_be_said_in_the_protocol(changes, problem):
    with pytest.raises(ValueError, match=problem):
        messages.sync_request([dataclasses.replace(RECEIVED, **changes)], updating=False, config=CONFIG)


def test_batches_and_lookups_are_bounded():
    small = dataclasses.replace(CONFIG, batch_size=1)
    with pytest.raises(ValueError, match="at least one"):
        messages.sync_request([], updating=False, config=CONFIG)
    with pytest.raises(ValueError, match="at most 1"):
        messages.sync_request([RECEIVED, RETURNED], updating=False, config=small)
    with pytest.raises(ValueError, match="at most 1"):
        messages.progress_request(ROWS, small)
    start, end = _vn(2026, 1, 1), _vn(2026, 2, 1)
    period = messages.lookup_request(received_from=start, received_to=end, config=CONFIG)
    assert (period["TuNgay"], period["DenNgay"]) == ("20260101000000", "20260201000000")
    for wrong in (
        {},
        {"codes": [RECEIVED.code], "received_from": start, "received_to": end},
        {"received_from": start},
        {"received_from": end, "received_to": start},
        {"codes": RECEIVED.code},
    ):
        with pytest.raises(ValueError):
            messages.lookup_request(**wrong, config=CONFIG)


@pytest.mark.parametrize(
    ("code", "good"),
    [
        ("000.00.10.H26-260115-0001", True),
        ("000.23.45.G01-991231-9999", True),
        ("000.00.10.H26-260230-0001", False),
        ("000.00.10.H26-260115-001", False),
        ("00.00.10.H26-260115-0001", False),
        ("000.00.10.h26-260115-0001", False),
        ("000.00.10.H26-20260115-0001", False),
        ("H26-260115-0001", False),
        ("", False),
    ],
)
def test_dossier_code_pattern(code, good):
    problem = messages.dossier_code_problem(code)
    assert (problem is None) is good
    if not good:
        assert problem.startswith("Mã hồ sơ (MaHoSo) không đúng cấu trúc")


# Answers.


def test_an_all_accepted_batch():
    answer = messages.parse_answer(_sample("sync-answer-accepted.json"))
    outcome = messages.batch_outcome(answer, [RECEIVED.code, RETURNED.code])
    assert outcome.all_accepted and outcome.accepted == (RECEIVED.code, RETURNED.code)
    assert outcome.already_exists == () and outcome.rejected == ()
    assert all(each.error() is None for each in outcome.outcomes)


def test_a_partial_batch_failure_names_each_record():
    codes = [RECEIVED.code, RETURNED.code, "000.00.10.H26-260115-0002"]
    answer = messages.parse_answer(_sample("sync-answer-partial.json"))
    assert answer.error_code == 3
    outcome = messages.batch_outcome(answer, codes)
    assert not outcome.all_accepted
    assert outcome.accepted == (RETURNED.code,)
    assert outcome.already_exists == (RECEIVED.code,)
    [refused] = outcome.rejected
    assert (refused.code, refused.error_code) == (codes[2], messages.MISSING_FIELD)
    assert refused.message == "Thiếu thông tin bắt buộc: ChuHoSo, SoGiayToChuHoSo."
    assert isinstance(outcome.outcomes[0].error(), AlreadyExists)
    error = refused.error()
    assert type(error) is PortalRejected and (error.error_code, error.message) == (5, refused.message)
    with pytest.raises(MalformedAnswer, match="do not name the records sent"):
        messages.batch_outcome(answer, list(reversed(codes)))
    with pytest.raises(MalformedAnswer):
        messages.batch_outcome(answer, codes[:2])


def test_the_public_one_record_already_exists_answer():
    answer = messages.parse_answer(_sample("sync-answer-already-exists.json"))
    assert (answer.error_code, answer.outcomes) == (3, None)
    outcome = messages.batch_outcome(answer, [RECEIVED.code])
    assert outcome.already_exists == (RECEIVED.code,) and outcome.rejected == ()
    with pytest.raises(AlreadyExists) as raised:  # about two records: cannot say which
        messages.batch_outcome(answer, [RECEIVED.code, RETURNED.code])
    assert raised.value.error_code == 3 and "đã tồn tại" in raised.value.message


@pytest.mark.parametrize(
    ("body", "already_exists"),
    [
        ({"error_code": -3, "message": "Trùng mã hồ sơ"}, True),
        ({"error_code": "0", "message": "Hồ sơ đã tồn tại"}, True),  # a public integration sees this too
        ({"error_code": 99, "message": "Mã hồ sơ ĐÃ TỒN TẠI"}, True),
        ({"error_code": 8, "message": "Mã đơn vị (madonvi) không đúng"}, False),
    ],
)
def test_already_exists_is_recognised_by_code_or_by_message(body, already_exists):
    answer = messages.parse_answer(body)
    if already_exists:
        assert messages.batch_outcome(answer, [RECEIVED.code]).already_exists == (RECEIVED.code,)
    else:
        with pytest.raises(PortalRejected) as raised:
            messages.batch_outcome(answer, [RECEIVED.code])
        assert type(raised.value) is PortalRejected and raised.value.error_code == 8


def test_a_request_level_refusal_raises_and_success_without_outcomes_accepts_all():
    assert messages.batch_outcome(messages.parse_answer({"error_code": "00"}), ["a", "b"]).accepted == ("a", "b")
    with pytest.raises(PortalRejected, match=r"^9: Yêu cầu phải là"):
        messages.batch_outcome(messages.parse_answer({"error_code": 9, "message": "Yêu cầu phải là JSON."}), ["a"])


@pytest.mark.parametrize(
    "body",
    [
        [],
        "0",
        {},
        {"message": "Thành công"},
        {"error_code": False},
        {"error_code": 0.0},
        {"error_code": "không"},
        {"error_code": "1e3"},
        {"error_code": 0, "message": 42},
        {"error_code": 0, "data": {"MaHoSo": "x"}},
        {"error_code": 0, "data": [{"MaHoSo": "x"}]},
        {"error_code": 0, "data": [{"error_code": 0}]},
        {"error_code": 0, "data": ["x"]},
    ],
    ids=repr,
)
def test_malformed_answers_are_refused(body):
    with pytest.raises(MalformedAnswer):
        messages.parse_answer(body)


def test_login_answers():
    assert messages.parse_login(_sample("login-answer.json")) == "Zm9vYmFyLXNlc3Npb24tc2FtcGxlLTAwMQ"
    with pytest.raises(SessionRejected) as raised:
        messages.parse_login(_sample("login-refused.json"))
    assert (raised.value.error_code, raised.value.message) == (1, "Tên đăng nhập hoặc mật khẩu không đúng.")
    for broken in ({"error_code": 0}, {"error_code": 0, "session": ""}, {"error_code": 0, "session": "a\nb"}, []):
        with pytest.raises(MalformedAnswer):
            messages.parse_login(broken)
    expired = messages.parse_answer(_sample("session-expired.json"))
    assert expired.error_code == messages.SESSION_INVALID


def test_lookup_answer():
    first, second = messages.parse_lookup(_sample("lookup-answer.json"))
    assert first == messages.PortalDossier(
        code=RECEIVED.code,
        procedure_code="1.001234",
        status=4,
        received_at=RECEIVED.received_at,
        appointment_at=RECEIVED.appointment_at,
        returned_at=None,
        progress_count=2,
    )
    assert (second.status, second.returned_at, second.progress_count) == (10, RETURNED.returned_at, 5)
    assert messages.parse_lookup({"error_code": 0, "result": []}) == []
    with pytest.raises(PortalRejected, match=r"^8: "):
        messages.parse_lookup({"error_code": 8, "message": "Mã đơn vị không đúng"})


@pytest.mark.parametrize(
    "changes",
    [
        {"NgayTiepNhan": "15/01/2026 09:30:00"},
        {"NgayTiepNhan": ""},
        {"NgayHenTra": "2026"},
        {"TrangThaiHoSo": "11"},
        {"TrangThaiHoSo": True},
        {"TrangThaiHoSo": [4]},
        {"SoBanGhiTienDo": -1},
        {"SoBanGhiTienDo": "2"},
        {"MaHoSo": ""},
        {"MaTTHC": 1001234},
    ],
    ids=repr,
)
def test_malformed_lookup_answers_are_refused(changes):
    body = _sample("lookup-answer.json")
    body["result"][0].update(changes)
    with pytest.raises(MalformedAnswer):
        messages.parse_lookup(body)
    with pytest.raises(MalformedAnswer):
        messages.parse_lookup({"error_code": 0, "data": []})


def test_progress_answer():
    outcome = messages.batch_outcome(messages.parse_answer(_sample("progress-answer.json")), [r.code for r in ROWS])
    assert outcome.all_accepted and len(outcome.outcomes) == 2


# Online dossiers.


def test_the_portal_form_becomes_the_push_sample_and_back():
    now = _vn(2026, 1, 16, 8, 0)
    dossier = online.parse_portal_submission(_sample("online-submission.json"), reference="unused", now=now)
    assert dossier.portal_reference == "DVCQG-260115-000042"
    assert dossier.submitted_at == _vn(2026, 1, 15, 20, 15, 12)
    assert dossier.applicant.date_of_birth == date(1990, 5, 12) and dossier.applicant.birth_year is None
    assert online.online_dossier_body(dossier) == _sample("online-push.json")
    assert online.parse_online_dossier(_sample("online-push.json")) == dossier


def test_the_push_matches_the_gateway_intake_models():
    """The contract with gateway/schemas.py: applicant, return method and documents (less `url`) validate."""
    push = _sample("online-push.json")
    applicant = schemas.Applicant.model_validate(push["applicant"])
    assert (applicant.residence.unit_code, applicant.residence.code_system) == ("00004", "2025")
    assert TypeAdapter(schemas.ReturnMethod).validate_python(push["return_method"]).type == "postal"
    for document in push["documents"]:
        schemas.Document.model_validate({key: value for key, value in document.items() if key != "url"})
    assert set(push) == {
        "portal_reference",
        "procedure_code",
        "applicant",
        "documents",
        "return_method",
        "submitted_at",
    }


def test_a_counter_return_and_a_year_of_birth_only():
    form = _sample("online-submission.json")
    del form["MaHoSoQG"], form["NgayNopHoSo"]
    form["ChuHoSo"]["NgaySinh"] = "1990"
    form["HinhThucNhanKetQua"] = {"HinhThuc": "0"}
    now = _vn(2026, 1, 16, 8, 0)
    dossier = online.parse_portal_submission(form, reference="DVCQG-260116-000001", now=now)
    body = online.online_dossier_body(dossier)
    assert (body["portal_reference"], body["submitted_at"]) == ("DVCQG-260116-000001", "20260116080000")
    assert body["applicant"]["birth_year"] == 1990 and "date_of_birth" not in body["applicant"]
    assert body["return_method"] == {"type": "counter"}
    assert online.parse_online_dossier(body) == dossier
    schemas.Applicant.model_validate(body["applicant"])


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda form: form.pop("ChuHoSo"), "ChuHoSo phải là một đối tượng JSON"),
        (lambda form: form.pop("MaTTHC"), "Thiếu thông tin bắt buộc hoặc sai kiểu: Hồ sơ trực tuyến.MaTTHC"),
        (lambda form: form["ChuHoSo"].update(NgaySinh="12/05/1990"), "ChuHoSo.NgaySinh phải có dạng yyyyMMdd"),
        (lambda form: form["ChuHoSo"].update(NgaySinh="19900231"), "ChuHoSo.NgaySinh phải có dạng yyyyMMdd"),
        (lambda form: form["ChuHoSo"]["NoiCuTru"].pop("MaXa"), "ChuHoSo.NoiCuTru.MaXa"),
        (lambda form: form.update(NgayNopHoSo="2026-01-15"), "NgayNopHoSo phải có dạng yyyyMMddHHmmss"),
        (lambda form: form.update(TaiLieuNop={}), "TaiLieuNop phải là một danh sách"),
        (lambda form: form["TaiLieuNop"][0].update(KichThuoc=0), r"TaiLieuNop\[1\].KichThuoc"),
        (lambda form: form["HinhThucNhanKetQua"].update(HinhThuc=1), "HinhThucNhanKetQua.HinhThuc phải là '0'"),
        (lambda form: form["HinhThucNhanKetQua"].pop("DiaChiNhan"), "DiaChiNhan phải là một đối tượng JSON"),
    ],
)
def test_bad_portal_forms_are_refused_in_vietnamese(change, problem):
    form = _sample("online-submission.json")
    change(form)
    with pytest.raises(ValueError, match=problem):
        online.parse_portal_submission(form, reference="DVCQG-260116-000001", now=_vn(2026, 1, 16))


# Settings and errors.


def test_the_password_stays_out_of_reprs_and_nonsense_settings_are_refused():
    assert "mat-khau-mau" not in repr(CONFIG)
    with pytest.raises(ValueError):
        dataclasses.replace(CONFIG, batch_size=0)
    with pytest.raises(ValueError):
        dataclasses.replace(CONFIG, timeout_seconds=0)


def test_the_error_tree():
    for kind in (PortalUnavailable, PortalRejected, MalformedAnswer):
        assert issubclass(kind, PortalError)
    assert issubclass(AlreadyExists, PortalRejected) and issubclass(SessionRejected, PortalRejected)
    error = messages.rejection(7, "Không thể chuyển hồ sơ")
    assert (type(error), str(error), error.code) == (PortalRejected, "7: Không thể chuyển hồ sơ", "dvcqg.rejected")
    assert str(PortalRejected(4, "")) == "4: no reason given"
