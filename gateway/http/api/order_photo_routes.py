"""Photos on a work order (`gateway.store.order_photos`): sent as the request body (the image's bytes, as a
phone's `fetch(url, {body: file})` sends them), listed, and served back only to callers who see the order.

415: not a JPEG, PNG or WebP by its bytes, whatever the content type said; 413: over the size (the body
limit lets this one path take that much, `gateway.http.api.limits`); 422: empty, or the order holds its most
photos already; 409: the order is closed. Nothing is stored on any refusal.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import FileResponse
from starlette.requests import ClientDisconnect

from gateway.errors import OrderRefused
from gateway.http.api.deps import Ctx, Me
from gateway.http.api.models import Out, errors
from gateway.http.api.work_order_routes import OrderId
from gateway.store import work_orders as wo
from gateway.store.order_photos import TYPES, PhotoShelf
from gateway.store.schema import WorkOrderPhoto

router = APIRouter(
    prefix="/api/v1", tags=["work orders"], responses=errors(401, 403, 404, 409, 413, 415, 422, 503)
)
PHOTO_PATH = r"^/api/v1/work-orders/[^/]+/photos$"
"""The one path whose body may be larger than the API's usual limit."""
PhotoId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
IMAGE = {"schema": {"type": "string", "format": "binary"}}


class PhotoOut(Out):
    id: str
    content_type: str
    size: int
    sha256: str
    ts: float
    url: str


class PhotoList(Out):
    items: list[PhotoOut]


def _shelf(api: Ctx) -> PhotoShelf:
    if api.photos is None:
        raise HTTPException(status_code=503, detail="photos are not kept by this gateway")
    return api.photos


def _out(p: WorkOrderPhoto) -> dict[str, Any]:
    return {
        "id": p.id, "content_type": p.content_type, "size": p.size, "sha256": p.sha256, "ts": p.ts,
        "url": f"/api/v1/work-orders/{p.order_id}/photos/{p.id}",
    }  # fmt: skip


@router.post(
    "/work-orders/{order_id}/photos",
    response_model=PhotoOut,
    status_code=201,
    openapi_extra={"requestBody": {"required": True, "content": dict.fromkeys(TYPES, IMAGE)}},
)
async def add_photo(api: Ctx, me: Me, order_id: OrderId, request: Request) -> dict[str, Any]:
    """A photo of the problem or the job done, for an order I see: the image's bytes as the body."""
    shelf = _shelf(api)
    try:
        order = await wo.visible(api.store, me, order_id)
        data = bytearray()
        try:
            async for chunk in request.stream():
                data += chunk
                if len(data) > shelf.max_bytes:
                    raise OrderRefused(413, f"photo: over {shelf.max_bytes} bytes")
        except ClientDisconnect:  # gone, or cut off by the body limit (which has answered 413 already)
            raise OrderRefused(413, f"photo: over {shelf.max_bytes} bytes, or the upload broke off") from None
        photo = await shelf.add(api.store, order, bytes(data), by=me.username, now=api.clock())
    except OrderRefused as exc:
        raise HTTPException(status_code=exc.status, detail=exc.detail) from exc
    return _out(photo)


@router.get("/work-orders/{order_id}/photos", response_model=PhotoList)
async def list_photos(api: Ctx, me: Me, order_id: OrderId) -> dict[str, Any]:
    shelf = _shelf(api)
    try:
        await wo.visible(api.store, me, order_id)
    except OrderRefused as exc:
        raise HTTPException(status_code=exc.status, detail=exc.detail) from exc
    return {"items": [_out(p) for p in await shelf.of(api.store, order_id)]}


@router.get(
    "/work-orders/{order_id}/photos/{photo_id}",
    response_class=FileResponse,
    responses={200: {"content": dict.fromkeys(TYPES, IMAGE), "description": "the image"}},
)
async def get_photo(api: Ctx, me: Me, order_id: OrderId, photo_id: PhotoId) -> FileResponse:
    """The image, for callers who see the order (404 otherwise, as if it did not exist)."""
    shelf = _shelf(api)
    try:
        await wo.visible(api.store, me, order_id)
        photo = await shelf.one(api.store, order_id, photo_id)
    except OrderRefused as exc:
        raise HTTPException(status_code=exc.status, detail=exc.detail) from exc
    path = shelf.path(photo)
    if not path.is_file():
        raise HTTPException(status_code=404, detail="no such photo")
    return FileResponse(
        path,
        media_type=photo.content_type,
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=3600",
                 "Content-Security-Policy": "default-src 'none'"},
    )  # fmt: skip
