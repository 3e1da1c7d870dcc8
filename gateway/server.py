"""Serving the app on a socket, with the bounds on slow and misbehaving clients that aiohttp leaves to us.

What bounds each way a client can hold a connection (the numbers are settings; docs/operations.md):

- idle between requests, or trickling a request's line and headers: aiohttp's keep-alive timer, armed when
  the connection opens and again after each answer, closes a connection that has not delivered a complete
  request head by then (MOTCUA_KEEPALIVE_TIMEOUT_SECONDS);
- a request line or header line, or the number of headers, past aiohttp's parser limits: 400 from aiohttp;
- a body: the whole of a JSON or form body, and each 64 KiB of a document upload, must arrive within
  MOTCUA_CLIENT_TIMEOUT_SECONDS (gateway/middlewares.py, gateway/api/documents.py): 408 `request.timeout`;
- an answer the client does not take: TCP_USER_TIMEOUT on the listening socket (inherited by every accepted
  one) has the kernel drop a connection whose sent bytes stay unacknowledged, or wait behind a zero receive
  window, for MOTCUA_CLIENT_TIMEOUT_SECONDS. aiohttp has no write timeout; its handler would wait in drain()
  for as long as the client holds the connection open.
"""

import socket

import structlog
from aiohttp import web

from gateway.settings import Settings

log = structlog.get_logger(__name__)


def listening_socket(settings: Settings) -> socket.socket:
    """The bound socket the gateway accepts on, its accepted connections bounded in how long the client may
    leave the gateway's bytes untaken."""
    family = socket.getaddrinfo(settings.host, settings.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
    sock = socket.create_server((settings.host, settings.port), family=family, backlog=128)
    if hasattr(socket, "TCP_USER_TIMEOUT"):  # Linux, where the gateway runs
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(settings.client_timeout_seconds * 1000))
    else:
        log.warning("server.no_send_timeout", reason="TCP_USER_TIMEOUT is not available on this system")
    return sock


def serve(app: web.Application, settings: Settings) -> None:
    """Serve until interrupted (SIGINT, SIGTERM), as web.run_app does, on `listening_socket`."""
    web.run_app(
        app,
        sock=listening_socket(settings),
        keepalive_timeout=settings.keepalive_timeout_seconds,
        print=None,
        access_log=None,
    )
