"""The pages' own style sheet and scripts (the receipt's print button, the monitoring page's live figures), served
from the package (no CDN, no build step)."""

from importlib import resources

from aiohttp import web

routes = web.RouteTableDef()
ASSETS = {
    "motcua.css": "text/css",
    "in.js": "text/javascript",
    "giam-sat.js": "text/javascript",
}
_FILES = resources.files("gateway.pages") / "static"


@routes.get("/tai-nguyen/{name}")
async def asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in ASSETS:
        raise web.HTTPNotFound()
    return web.Response(
        body=(_FILES / name).read_bytes(),
        content_type=ASSETS[name],
        charset="utf-8",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
