"""Property tests (hypothesis) of every parser of outside input: whatever arrives, each answers its documented
result or raises its documented error, never anything else (a stray KeyError or TypeError would be a 500 at
the gateway or a dead worker message). Inputs are arbitrary values and mutations of the partners' samples."""

import copy
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters.dvcqg import messages as portal
from adapters.dvcqg import online
from adapters.dvcqg.errors import MalformedAnswer as PortalMalformed
from adapters.dvcqg.errors import PortalRejected
from adapters.postal import messages as vnpost
from adapters.postal.errors import MalformedAnswer as PostalMalformed
from adapters.postal.errors import PostalRejected
from adapters.postal.s10 import check_digit, s10_problem
from identity.errors import MalformedAnswer as RegisterMalformed
from identity.messages import build_answer, parse_answer
from identity.model import CitizenRecord
from identity.rules import cmnd_problem, id_number_problems
from mapping import MappingError, resolve_unit

ROOT = Path(__file__).parent.parent
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


def _sample(path: str) -> Any:
    return json.loads((ROOT / path).read_text())


def _mutate(data: Any, draw) -> Any:
    """The sample with one value somewhere replaced by an arbitrary one, or one key removed."""
    data = copy.deepcopy(data)
    paths = []

    def walk(node: Any, trail: tuple) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            paths.append((*trail, key))
            walk(value, (*trail, key))

    walk(data, ())
    if not paths:
        return draw(json_values)
    path = draw(st.sampled_from(paths))
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    if isinstance(parent, dict) and draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(json_values)
    return data


@st.composite
def mutated(draw, path: str) -> Any:
    return _mutate(_sample(path), draw)


# Identifiers people type.


@FUZZ
@given(st.text(max_size=20))
def test_s10_numbers_are_judged_never_crash(text):
    problem = s10_problem(text)
    assert problem is None or isinstance(problem, str)


@FUZZ
@given(st.sampled_from(["RR", "EE", "CP"]), st.integers(0, 99_999_999))
def test_every_s10_built_with_its_check_digit_is_valid_and_one_digit_off_is_not(prefix, serial):
    digits = f"{serial:08d}"
    right = check_digit(digits)
    assert s10_problem(f"{prefix}{digits}{right}VN") is None
    assert s10_problem(f"{prefix}{digits}{(right + 1) % 10}VN") is not None


@FUZZ
@given(st.text(max_size=20), st.one_of(st.none(), st.integers(-5, 3000)), st.sampled_from([None, "male", "female"]))
def test_id_and_cmnd_numbers_are_judged_never_crash(text, year, sex):
    assert isinstance(id_number_problems(text, year, sex), list)
    problem = cmnd_problem(text)
    assert problem is None or isinstance(problem, str)


@FUZZ
@given(st.text(max_size=8), st.sampled_from(["2025", "legacy"]), st.one_of(st.none(), st.text(max_size=6)))
def test_unit_codes_resolve_or_raise_a_mapping_error(code, system, new_commune):
    try:
        unit = resolve_unit(code, system, new_commune_code=new_commune)
    except MappingError as error:
        assert error.code and error.message
    else:
        assert unit.commune_code and unit.province_code


# The population register's SOAP answers (after the signature check).

RECORD = CitizenRecord(
    id_number="001090123456",
    full_name="Nguyễn Văn An",
    birth_date=date(1990, 5, 14),
    birth_year=1990,
    sex="male",
    residence_legacy_ward="00004",
    residence_address="12 phố Đội Cấn",
)


@st.composite
def register_answers(draw) -> etree._Element:
    """A well-formed answer with one element's text replaced, or one element removed or duplicated."""
    operation = draw(st.sampled_from(["XacThucThongTinCongDan", "TraCuuThongTinCongDan"]))
    envelope = build_answer(
        operation, "req-1", datetime(2026, 11, 22, 8, 0, tzinfo=UTC), draw(st.sampled_from([RECORD, None]))
    )
    elements = [element for element in envelope.iter() if isinstance(element.tag, str)]
    target = draw(st.sampled_from(elements))
    action = draw(st.sampled_from(["text", "remove", "duplicate"]))
    if action == "text":
        target.text = draw(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30))
    elif target.getparent() is not None:
        parent = target.getparent()
        if action == "remove":
            parent.remove(target)
        else:
            parent.append(copy.deepcopy(target))
    return envelope


@FUZZ
@given(register_answers())
def test_register_answers_parse_or_raise_malformed(envelope):
    try:
        answer = parse_answer(envelope, b"<signed/>")
    except RegisterMalformed:
        return
    assert isinstance(answer.found, bool) and answer.answered_at.tzinfo is not None


# VNPost: status callbacks and order answers.


@FUZZ
@given(
    st.one_of(
        json_values,
        mutated("adapters/postal/vendor/callback-delivered.json"),
        mutated("adapters/postal/vendor/callback-cod-paid.json"),
        mutated("adapters/postal/vendor/callback-failed.json"),
    )
)
def test_vnpost_callbacks_parse_or_raise_malformed(body):
    try:
        event = vnpost.parse_tracking_event(body)
    except PostalMalformed:
        return
    assert s10_problem(event.item_code) is None and event.occurred_at.tzinfo is not None


@FUZZ
@given(st.one_of(json_values, mutated("adapters/postal/vendor/order-answer-accepted.json")))
def test_vnpost_order_answers_parse_or_raise_their_errors(body):
    order_number = _sample("adapters/postal/vendor/order-request-delivery.json").get("OrderNumber", "")
    try:
        accepted = vnpost.parse_order_response(body, order_number)
    except (PostalMalformed, PostalRejected):
        return
    assert s10_problem(accepted.item_code) is None


# The National Public Service Portal: its answers and its pushes of online dossiers.


@FUZZ
@given(
    st.one_of(
        json_values,
        mutated("adapters/dvcqg/vendor/sync-answer-partial.json"),
        mutated("adapters/dvcqg/vendor/sync-answer-accepted.json"),
        mutated("adapters/dvcqg/vendor/session-expired.json"),
    )
)
def test_portal_answers_parse_or_raise_their_errors(body):
    try:
        answer = portal.parse_answer(body)
    except PortalMalformed:
        return
    assert isinstance(answer.error_code, int)
    if answer.outcomes is not None:
        codes = [outcome.code for outcome in answer.outcomes]
        try:
            portal.batch_outcome(answer, codes)
        except PortalMalformed:
            pass


@FUZZ
@given(st.one_of(json_values, mutated("adapters/dvcqg/vendor/lookup-answer.json")))
def test_portal_lookups_parse_or_raise_their_errors(body):
    try:
        held = portal.parse_lookup(body)
    except (PortalMalformed, PortalRejected):
        return
    assert all(dossier.received_at.tzinfo is not None for dossier in held)


@FUZZ
@given(st.one_of(json_values, mutated("adapters/dvcqg/vendor/login-answer.json")))
def test_portal_logins_parse_or_raise_their_errors(body):
    try:
        session = portal.parse_login(body)
    except (PortalMalformed, PortalRejected):
        return
    assert isinstance(session, str) and session


@FUZZ
@given(
    st.one_of(
        json_values,
        mutated("adapters/dvcqg/vendor/online-push.json"),
        mutated("adapters/dvcqg/vendor/online-submission.json"),
    )
)
def test_online_dossiers_parse_or_raise_value_error(body):
    for parse in (online.parse_online_dossier, lambda b: online.parse_portal_submission(b, reference="R", now=NOW)):
        try:
            parse(body)
        except ValueError:
            pass


NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
