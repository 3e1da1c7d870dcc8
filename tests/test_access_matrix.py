"""Integration (real PostgreSQL, real HTTP): the authorisation matrix. Every role against every endpoint that
takes an API key, and every organisation against a dossier that is not its own: a role an endpoint does not
serve gets 403 `auth.role`; an organisation the dossier does not concern gets the 404 an unknown code gets."""

import pytest

from gateway.openapi import OPERATIONS
from tests.samples import SHA, TO_KHAI, file_dossier, postal_dossier

ROLES = ("postal", "counter", "agency", "portal", "admin")
ANY_ID = "00000000-0000-4000-8000-000000000000"
CODE = "{code}"
# The specification: which roles each endpoint serves.
ALLOWED: dict[tuple[str, str], set[str]] = {
    ("GET", "/v1/admin/outbox"): {"admin"},
    ("POST", "/v1/admin/outbox/{message_id}/replay"): {"admin"},
    ("POST", "/v1/admin/dossiers/search"): {"admin"},
    ("GET", "/v1/admin/postal/reconciliation"): {"admin"},
    ("POST", "/v1/agency/dossiers/{code}/events"): {"agency"},
    ("PUT", "/v1/agency/dossiers/{code}/results/{sha256}"): {"agency"},
    ("GET", "/v1/agency/inbox"): {"agency"},
    ("POST", "/v1/agency/inbox/{message_id}/ack"): {"agency"},
    ("POST", "/v1/dossiers"): {"postal", "counter"},
    ("GET", "/v1/dossiers/{code}"): {"postal", "counter", "portal", "agency", "admin"},
    ("GET", "/v1/dossiers/{code}/events"): {"postal", "counter", "portal", "agency", "admin"},
    ("GET", "/v1/dossiers/{code}/documents"): {"postal", "counter", "agency", "admin"},
    ("GET", "/v1/dossiers/{code}/documents/{sha256}"): {"postal", "counter", "agency", "admin"},
    ("PUT", "/v1/dossiers/{code}/documents/{sha256}"): {"postal", "counter", "portal"},
    ("POST", "/v1/dossiers/{code}/supplements"): {"postal", "counter"},
    ("POST", "/v1/dossiers/{code}/withdraw"): {"postal", "counter"},
    ("POST", "/v1/portal/dossiers"): {"portal"},
}
DOSSIER_ROUTES = [route for route in ALLOWED if CODE in route[1]]


# Valid bodies, so that what decides the answer is who asks, not what was sent.
BODIES = {
    "/v1/agency/dossiers/{code}/events": {"type": "accepted"},
    "/v1/dossiers/{code}/supplements": {"documents": postal_dossier()["documents"]},
}


def _path(template: str, code: str) -> str:
    return template.format(code=code, sha256=SHA, message_id=ANY_ID)


async def _call(client, method: str, path: str, org, template: str = ""):
    headers = {**org.auth, "Idempotency-Key": "matrix"}
    if method == "PUT":
        headers |= {"Content-Type": "application/pdf"}
        return await client.put(path, data=TO_KHAI, params={"name": "Phiếu"}, headers=headers)
    return await client.request(method, path, json=BODIES.get(template, {}), headers=headers)


def test_the_matrix_names_every_endpoint_that_takes_an_api_key():
    keyed = {route for route, operation in OPERATIONS.items() if operation.get("security") == [{"apiKey": []}]}
    assert set(ALLOWED) == keyed


@pytest.mark.parametrize(("method", "template"), list(ALLOWED))
async def test_every_role_is_served_or_refused_as_the_matrix_says(client, orgs, db, method, template):
    """Roles outside the matrix: 403 `auth.role` before anything is looked at. Roles inside: never 401 or 403
    on a path of no dossier (an unknown dossier is 404 to everyone)."""
    path = _path(template, "000.00.10.H26-000101-9999")
    for role in ROLES:
        answer = await _call(client, method, path, getattr(orgs, role))
        if role in ALLOWED[(method, template)]:
            assert answer.status not in (401, 403), (role, answer.status, await answer.text())
        else:
            assert answer.status == 403, (role, answer.status)
            assert (await answer.json())["code"] == "auth.role"


@pytest.mark.parametrize(("method", "template"), DOSSIER_ROUTES)
async def test_a_dossier_is_unknown_to_every_organisation_it_does_not_concern(client, orgs, method, template):
    """A dossier filed by one post office and routed to Sở Tư pháp Hà Nội: another post office, a counter,
    another agency and the portal (which did not file it) get exactly what an unknown code gets."""
    code = (await file_dossier(client, orgs.postal, postal_dossier(), "matrix-dossier"))["code"]
    allowed = ALLOWED[(method, template)]
    outsiders = {"postal": orgs.other_postal, "counter": orgs.counter, "agency": orgs.other_agency}
    outsiders |= {"portal": orgs.portal}
    for role, org in outsiders.items():
        if role not in allowed:
            continue
        answer = await _call(client, method, _path(template, code), org, template)
        unknown = await _call(client, method, _path(template, "000.00.10.H26-000101-9999"), org, template)
        assert answer.status == unknown.status == 404, (role, answer.status, unknown.status)
        assert (await answer.json())["code"] == (await unknown.json())["code"], role
