"""The browser UI: one page and its static assets, served by the console's own app.

`mount_ui(app)` serves `static/index.html` at / and the assets under /static/. Each of them
carries a strict Content-Security-Policy (script, style, image and fetch from this origin only;
no inline code, no framing) and `X-Content-Type-Options: nosniff`. The page is plain JavaScript
that talks to the JSON API under /api/v1; nothing is loaded from anywhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.datastructures import MutableHeaders
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_SECURITY_POLICY", "SECURITY_HEADERS", "STATIC", "mount_ui"]

STATIC = Path(__file__).parent / "static"

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # revalidate (ETag), so an upgrade reaches every browser
}


class _WithHeaders:
    """An ASGI app that adds `headers` to every response of the app it wraps."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str]) -> None:
        self.app, self.headers = app, headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(self.headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def mount_ui(app: FastAPI) -> None:
    """GET / answers the page; /static/* its scripts, styles and images."""

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html",
                            headers=dict(SECURITY_HEADERS))

    app.mount("/static", _WithHeaders(StaticFiles(directory=STATIC), SECURITY_HEADERS),
              name="static")
