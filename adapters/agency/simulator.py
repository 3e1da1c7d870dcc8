"""Agency simulator: receives pushed dossiers at POST /inbox, as an agency's system would.

It verifies `X-Motcua-Signature` (compact JWS, EdDSA/Ed25519, detached payload = the exact body) against the
gateway's JWKS (fetched from `jwks_url`, cached, fetched again on an unknown kid: key rotation), dedupes on
`X-Motcua-Message-Id`, and answers with a receipt. Its own verifier (not the gateway's code) checks that the
format is what an independent agency implementation would expect.

Behaviours (per run in the config, or POST /_simulator/behaviour {"mode": ..., "seconds": ...}):
  accept               verify, record, 200 with a receipt (a repeated message id gets the same receipt)
  slow                 sleep `seconds` (slow_seconds) first, then accept
  error                HTTP 500
  down                 HTTP 503 for `seconds` (down_seconds) from when the mode is set, then accept
  duplicate            accept, and say so in the answer when the message id was seen before (the gateway
                       sent a stable id; the dossier is recorded once)
  lost_answer          record the message, but answer 502 the first time each id arrives (the agency has
                       it, the gateway does not know): the retry with the same id is then recorded as a
                       duplicate and answered 200
  bad_signature_check  the signature check fails: 401
GET /_simulator/received → {"messages": {id: count}, "dossiers": [codes, once each], "rejected": n}.
"""

import argparse
import asyncio
import base64
import binascii
import contextlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

MODES = ("accept", "slow", "error", "down", "duplicate", "lost_answer", "bad_signature_check")


@dataclass
class AgencySimulatorConfig:
    jwks_url: str  # the gateway's /.well-known/jwks.json
    mode: str = "accept"
    slow_seconds: float = 15.0
    down_seconds: float = 30.0
    jwks_cache_seconds: float = 300.0
    agency_code: str = "SIMULATED"


@dataclass
class _State:
    config: AgencySimulatorConfig
    mode: str
    mode_since: float
    seconds: float | None = None
    messages: dict[str, int] = field(default_factory=dict)
    receipts: dict[str, dict[str, Any]] = field(default_factory=dict)
    dossiers: list[str] = field(default_factory=list)
    rejected: int = 0
    jwks: dict[str, Any] | None = None
    jwks_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


STATE = web.AppKey("agency_simulator", _State)


class SignatureRejected(Exception):
    pass


def _b64(text: str) -> bytes:
    if "=" in text:
        raise SignatureRejected("padded base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise SignatureRejected("bad base64url") from exc


async def _fetch_jwks(state: _State, *, force: bool = False) -> dict[str, Any]:
    fresh = state.jwks is not None and time.monotonic() - state.jwks_at < state.config.jwks_cache_seconds
    if force or not fresh:
        async with (
            aiohttp.ClientSession() as session,
            session.get(state.config.jwks_url, timeout=aiohttp.ClientTimeout(total=5)) as answer,
        ):
            answer.raise_for_status()
            state.jwks, state.jwks_at = await answer.json(), time.monotonic()
    assert state.jwks is not None
    return state.jwks


async def verify_signature(state: _State, token: str, body: bytes) -> str:
    """The kid that signed `body`; SignatureRejected otherwise."""
    parts = token.split(".")
    if len(parts) != 3 or parts[1] not in ("", base64.urlsafe_b64encode(body).decode().rstrip("=")):
        raise SignatureRejected("not a compact JWS over this body")
    try:
        header = json.loads(_b64(parts[0]))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SignatureRejected("header is not JSON") from exc
    if not isinstance(header, dict) or header.get("alg") != "EdDSA":
        raise SignatureRejected("alg must be EdDSA")
    kid = header.get("kid")

    def find(jwks: dict[str, Any]) -> dict[str, Any] | None:
        return next((k for k in jwks.get("keys", []) if k.get("kid") == kid), None)

    key = find(await _fetch_jwks(state))
    if key is None:  # rotated since we cached: ask once more
        key = find(await _fetch_jwks(state, force=True))
    if key is None or key.get("kty") != "OKP" or key.get("crv") != "Ed25519":
        raise SignatureRejected(f"unknown kid {kid!r}")
    signing_input = f"{parts[0]}.{base64.urlsafe_b64encode(body).decode().rstrip('=')}".encode()
    try:
        Ed25519PublicKey.from_public_bytes(_b64(key["x"])).verify(_b64(parts[2]), signing_input)
    except (InvalidSignature, ValueError) as exc:
        raise SignatureRejected("bad signature") from exc
    return kid


def _current_mode(state: _State) -> str:
    if state.mode == "down":
        seconds = state.seconds if state.seconds is not None else state.config.down_seconds
        if time.monotonic() - state.mode_since >= seconds:
            return "accept"
    return state.mode


def _reject(state: _State, status: int, reason: str) -> web.Response:
    state.rejected += 1
    return web.json_response({"accepted": False, "reason": reason}, status=status)


async def inbox(request: web.Request) -> web.Response:
    state = request.app[STATE]
    mode = _current_mode(state)
    if mode == "error":
        return _reject(state, 500, "simulated internal error")
    if mode == "down":
        return _reject(state, 503, "simulated outage")
    if mode == "slow":
        await asyncio.sleep(state.seconds if state.seconds is not None else state.config.slow_seconds)
    body = await request.read()
    if mode == "bad_signature_check":
        return _reject(state, 401, "signature check failed (simulated)")
    try:
        kid = await verify_signature(state, request.headers.get("X-Motcua-Signature", ""), body)
    except SignatureRejected as exc:
        return _reject(state, 401, f"signature: {exc}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        return _reject(state, 503, f"cannot fetch the gateway's keys: {type(exc).__name__}")
    try:
        document = json.loads(body)
        message_id = str(uuid.UUID(request.headers.get("X-Motcua-Message-Id", "")))
    except (ValueError, json.JSONDecodeError):
        return _reject(state, 400, "bad body or message id")
    if document.get("message_id") != message_id:
        return _reject(state, 400, "message id in header and body differ")
    async with state.lock:
        count = state.messages.get(message_id, 0) + 1
        state.messages[message_id] = count
        if count == 1:
            state.dossiers.append(document.get("dossier_code"))
            state.receipts[message_id] = {
                "accepted": True,
                "message_id": message_id,
                "dossier_code": document.get("dossier_code"),
                "agency_code": state.config.agency_code,
                "reference": f"SIM-{len(state.dossiers):06d}",
                "verified_kid": kid,
            }
    if mode == "lost_answer" and count == 1:
        return web.json_response({"error": "answer lost (simulated)"}, status=502)
    return web.json_response({**state.receipts[message_id], "duplicate": count > 1})


async def set_behaviour(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await request.json()
    if data.get("mode") not in MODES:
        return web.json_response({"error": f"mode must be one of {', '.join(MODES)}"}, status=400)
    state.mode, state.mode_since = data["mode"], time.monotonic()
    state.seconds = float(data["seconds"]) if data.get("seconds") is not None else None
    return web.json_response({"mode": state.mode, "seconds": state.seconds})


async def received(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response(
        {"messages": state.messages, "dossiers": state.dossiers, "rejected": state.rejected, "mode": state.mode}
    )


def create_app(config: AgencySimulatorConfig) -> web.Application:
    if config.mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    app = web.Application()
    app[STATE] = _State(config, config.mode, time.monotonic())
    app.router.add_post("/inbox", inbox)
    app.router.add_post("/_simulator/behaviour", set_behaviour)
    app.router.add_get("/_simulator/received", received)
    return app


async def start_agency_simulator(
    config: AgencySimulatorConfig, host: str = "127.0.0.1", port: int = 0
) -> tuple[web.AppRunner, str]:
    """Start on a real socket; returns the runner (await runner.cleanup() to stop) and the base URL
    (no trailing slash): pushes go to f"{url}/inbox"."""
    runner = web.AppRunner(create_app(config), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner, f"http://{host}:{runner.addresses[0][1]}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m adapters.agency.simulator", description=__doc__.splitlines()[0])
    parser.add_argument("--jwks-url", default="http://127.0.0.1:8080/.well-known/jwks.json")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--mode", choices=MODES, default="accept")
    parser.add_argument("--agency-code", default="SIMULATED", help="the identifier it answers receipts as")
    args = parser.parse_args(argv)
    config = AgencySimulatorConfig(jwks_url=args.jwks_url, mode=args.mode, agency_code=args.agency_code)
    with contextlib.suppress(KeyboardInterrupt):
        web.run_app(create_app(config), host=args.host, port=args.port, access_log=None)


if __name__ == "__main__":
    main()
