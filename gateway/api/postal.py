"""VNPost status callbacks: authenticated by their HMAC signature (not an API key), checked for freshness,
stored once, folded by event time."""

import json
import time

from aiohttp import web

from adapters.postal import signing
from adapters.postal.errors import BadCallback, MalformedAnswer
from adapters.postal.messages import parse_tracking_event
from gateway.errors import NotFound, ServiceUnavailable, Unauthorized, Unprocessable
from gateway.http import json_response
from gateway.keys import SERVICES
from gateway.workflow import postal

routes = web.RouteTableDef()


@routes.post("/v1/postal/callbacks")
async def callback(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    config = postal.postal_config(services.settings)
    if config is None or not config.callback_secret:
        raise ServiceUnavailable("Chưa cấu hình kết nối VNPost.", code="postal.not_configured")
    body = await request.read()
    try:
        signing.verify(config.callback_secret, request.headers, body, time.time(), config.callback_freshness_seconds)
    except BadCallback as exc:
        raise Unauthorized(
            "Thông báo trạng thái bưu gửi không có chữ ký hợp lệ hoặc đã quá hạn.", code=exc.code
        ) from exc
    try:
        event = parse_tracking_event(json.loads(body))
    except (ValueError, MalformedAnswer) as exc:
        raise Unprocessable(
            f"Thông báo trạng thái bưu gửi không đúng định dạng: {exc}", code="postal.malformed"
        ) from exc
    async with services.connection() as conn, conn.transaction():
        ingested = await postal.ingest(conn, event, "callback")
    if ingested is None:
        raise NotFound(f"Không có bưu gửi {event.item_code} của cổng.", code="postal.item_unknown")
    return json_response({"item_code": event.item_code, "duplicate": not ingested.stored, "status": ingested.status})
