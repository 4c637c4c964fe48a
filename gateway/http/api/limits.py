"""Refuse request bodies over a size before anything reads them: by Content-Length when given, by
counting when the client streams (chunked). A few paths (a work order's photos) may take more: `larger`
names them by pattern with their own limit."""

from __future__ import annotations

import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    def __init__(self, app: ASGIApp, max_body: int, larger: tuple[tuple[str, int], ...] = ()) -> None:
        self.app = app
        self.max_body = max_body
        self.larger = [(re.compile(pattern), limit) for pattern, limit in larger]

    def limit(self, path: str) -> int:
        return next((n for pattern, n in self.larger if pattern.match(path)), self.max_body)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope.get("path", ""))
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_large = int(value) > limit
                except ValueError:
                    too_large = True
                if too_large:
                    await _refuse(send, limit)
                    return
        seen = 0
        refused = False

        async def counted() -> Message:
            """Over the limit mid-stream: answer 413 now and tell the app the client left."""
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    await _refuse(send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def tracked(message: Message) -> None:
            if not refused:  # whatever the app says after the 413 goes nowhere
                await send(message)

        await self.app(scope, counted, tracked)


async def _refuse(send: Any, limit: int) -> None:
    body = f'{{"detail":"request body over {limit} bytes"}}'.encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
