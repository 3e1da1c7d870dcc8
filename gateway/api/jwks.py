"""`GET /.well-known/jwks.json`: the public keys agencies verify pushed deliveries with.

Lists the current signing key and every key still published during a rotation. Not registered by
"""

from aiohttp import web

from gateway.delivery_keys import keys_for
from gateway.http import json_response
from gateway.keys import SERVICES

routes = web.RouteTableDef()
PATH = "/.well-known/jwks.json"
CACHE_SECONDS = 300


@routes.get(PATH)
async def jwks(request: web.Request) -> web.Response:
    keys = keys_for(request.app[SERVICES])
    return json_response(keys.jwks(), headers={"Cache-Control": f"public, max-age={CACHE_SECONDS}"})


# For the lead to paste into gateway/openapi.py under paths["/.well-known/jwks.json"]["get"].
OPENAPI_OPERATION = {
    "operationId": "getDeliveryKeys",
    "tags": ["agency"],
    "summary": "Public keys (JWKS) that sign pushed agency deliveries",
    "description": (
        "Every push to an agency endpoint carries `X-Motcua-Signature`: a compact JWS (RFC 7515) with a "
        "detached payload (appendix F: `header..signature`), algorithm EdDSA over Ed25519 (RFC 8037). The "
        "payload is the exact request body. The `kid` in the protected header names one of these keys. During "
        "a key rotation both the old and the new key are listed; an agency that meets an unknown `kid` fetches "
        "this document again."
    ),
    "security": [],
    "responses": {
        "200": {
            "description": "The published keys.",
            "headers": {"Cache-Control": {"schema": {"type": "string"}}},
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["keys"],
                        "properties": {
                            "keys": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["kty", "crv", "x", "kid"],
                                    "properties": {
                                        "kty": {"const": "OKP"},
                                        "crv": {"const": "Ed25519"},
                                        "x": {"type": "string", "description": "public key, base64url"},
                                        "kid": {"type": "string", "description": "SHA-256 of x's bytes, 16 hex"},
                                        "alg": {"const": "EdDSA"},
                                        "use": {"const": "sig"},
                                    },
                                },
                            }
                        },
                    }
                }
            },
        }
    },
}
