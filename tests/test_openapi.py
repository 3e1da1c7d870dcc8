"""The served OpenAPI document: valid OpenAPI 3.1, in step with the router, and true to real answers."""

from typing import Any

import pytest
from aiohttp import web
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from gateway.app import create_app
from gateway.openapi import build_openapi
from tests.samples import SHA, TO_KHAI, postal_dossier

DOCUMENT_URI = "urn:motcua:openapi"


def _served(app: web.Application) -> set[tuple[str, str]]:
    return {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }


def _documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item}


def _answer_validator(document: dict[str, Any], path: str, method: str, status: int, media_type: str):
    """A JSON Schema validator for one documented answer, with the document's components resolvable."""
    content = document["paths"][path][method]["responses"][str(status)]["content"]
    assert media_type in content, f"{method.upper()} {path} {status} does not document {media_type}"
    schema = content[media_type]["schema"]
    registry = Registry().with_resource(DOCUMENT_URI, Resource.from_contents(document, DRAFT202012))
    ref = schema["$ref"]
    assert ref.startswith("#/")
    return Draft202012Validator(
        {"$ref": DOCUMENT_URI + ref}, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


async def _document(client) -> dict[str, Any]:
    answer = await client.get("/openapi.json")
    assert answer.status == 200
    assert answer.content_type == "application/json"
    return await answer.json()


async def test_served_document_is_valid_openapi_3_1(client):
    """GET /openapi.json answers a document that the OpenAPI 3.1 validator accepts."""
    document = await _document(client)
    assert document["openapi"].startswith("3.1.")
    validate(document, cls=OpenAPIV31SpecValidator)


async def test_every_route_has_an_operation_and_every_operation_a_route(client):
    """The routes the app serves (HEAD aside) and the operations the document lists are the same set."""
    document = await _document(client)
    served = _served(client.app)
    assert ("POST", "/v1/dossiers") in served
    assert served == _documented(document)


def test_build_refuses_an_undocumented_route(settings):
    """build_openapi raises RuntimeError naming the route when the app serves a route with no operation."""
    app = create_app(settings)

    async def extra(request: web.Request) -> web.Response:
        return web.Response()

    app.router.add_get("/v1/undocumented", extra)
    with pytest.raises(RuntimeError, match="/v1/undocumented"):
        build_openapi(app)


def test_build_refuses_an_operation_without_route():
    """build_openapi raises RuntimeError when the document lists operations the app does not serve."""
    app = web.Application()
    with pytest.raises(RuntimeError, match="unserved"):
        build_openapi(app)


async def test_real_receipt_matches_the_documented_201_schema(client, orgs):
    """A real 201 intake answer validates against the Receipt schema the document gives for it."""
    document = await _document(client)
    filed = await client.post(
        "/v1/dossiers", json=postal_dossier(), headers={**orgs.postal.auth, "Idempotency-Key": "openapi-1"}
    )
    assert filed.status == 201, await filed.text()
    validator = _answer_validator(document, "/v1/dossiers", "post", 201, filed.content_type)
    receipt = await filed.json()
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(receipt)]
    assert errors == []
    # The schema is not vacuous: the same answer without its code is refused.
    del receipt["code"]
    assert not validator.is_valid(receipt)


async def test_real_422_problem_matches_the_documented_problem_schema(client, orgs):
    """A real 422 intake answer is application/problem+json and validates against the Problem schema."""
    document = await _document(client)
    body = postal_dossier()
    body["applicant"]["date_of_birth"] = "1991-05-14"  # the id number encodes 1990
    refused = await client.post("/v1/dossiers", json=body, headers={**orgs.postal.auth, "Idempotency-Key": "openapi-2"})
    assert refused.status == 422, await refused.text()
    assert refused.content_type == "application/problem+json"
    validator = _answer_validator(document, "/v1/dossiers", "post", 422, refused.content_type)
    problem = await refused.json()
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(problem)]
    assert errors == []
    assert problem["status"] == 422
    del problem["detail"]
    assert not validator.is_valid(problem)


async def test_real_dossier_and_tracking_views_match_their_documented_schemas(client, orgs):
    """The submitter's dossier view and the citizen's tracking view, steps included, validate against the
    schemas the document gives for their 200 answers."""
    document = await _document(client)
    filed = await client.post(
        "/v1/dossiers", json=postal_dossier(), headers={**orgs.postal.auth, "Idempotency-Key": "openapi-3"}
    )
    receipt = await filed.json()
    views = {
        "/v1/dossiers/{code}": await client.get(f"/v1/dossiers/{receipt['code']}", headers=orgs.postal.auth),
        "/v1/track/{code}": await client.get(
            f"/v1/track/{receipt['code']}", headers={"X-Tracking-Pin": receipt["tracking_pin"]}
        ),
    }
    for path, answer in views.items():
        assert answer.status == 200, await answer.text()
        validator = _answer_validator(document, path, "get", 200, answer.content_type)
        body = await answer.json()
        assert [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)] == [], path
        assert len(body["steps"]) == 1
        del body["steps"][0]["status"]
        assert not validator.is_valid(body), path


async def test_real_upload_answer_matches_its_documented_schema(client, orgs):
    """The answer to a component upload validates against the DocumentUploaded schema of its 201."""
    document = await _document(client)
    filed = await client.post(
        "/v1/dossiers", json=postal_dossier(), headers={**orgs.postal.auth, "Idempotency-Key": "openapi-4"}
    )
    path = (await filed.json())["upload_urls"][SHA]
    uploaded = await client.put(path, data=TO_KHAI, headers={**orgs.postal.auth, "Content-Type": "application/pdf"})
    assert uploaded.status == 201, await uploaded.text()
    validator = _answer_validator(document, "/v1/dossiers/{code}/documents/{sha256}", "put", 201, uploaded.content_type)
    body = await uploaded.json()
    assert [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)] == []
    body["documents"][0]["sha256"] = "not a hash"
    assert not validator.is_valid(body)
