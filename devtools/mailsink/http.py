"""The HTTP side: list, read and delete stored messages as JSON."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException

from mailsink.smtp import SinkHandler


def create_app(handler: SinkHandler) -> FastAPI:
    app = FastAPI(title="Warren mail sink", version="1")
    store = handler.store

    @app.get("/messages")
    async def list_messages(to: str | None = None) -> list[dict[str, Any]]:
        messages = store.all()
        if to is not None:
            messages = [m for m in messages if to.lower() in (r.lower() for r in m["rcpt_to"])]
        return messages

    @app.get("/messages/{message_id}")
    async def get_message(message_id: str) -> dict[str, Any]:
        message = store.get(message_id, include_raw=True)
        if message is None:
            raise HTTPException(status_code=404, detail=f"no message {message_id}")
        return message

    @app.delete("/messages")
    async def delete_messages() -> dict[str, int]:
        handler.rejections.clear()
        return {"deleted": store.clear()}

    @app.get("/rejections")
    async def list_rejections() -> list[dict[str, str]]:
        return [{"address": r.address, "at": r.at} for r in handler.rejections]

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
