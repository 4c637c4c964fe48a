"""Photos on a work order against the running gateway, with real bytes: res1 adds a real one-pixel PNG to her
request (sent as octet-stream: its bytes decide), gets it back, and so does the site's property staff; a
neighbour, another grid's officer and another site's staff get 404. A text file sent as image/png (415), a
body over the limit whether announced or streamed (413), an empty body and a seventh photo (422), and a
photo on a withdrawn order (409) leave nothing behind: no row, no file."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

from gateway.store.order_photos import sniff
from tests.gateway.http.api.rig import Site

ORDERS = "/api/v1/work-orders"
LIMIT = 5 << 20


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(rgb: bytes = b"\xff\x00\x00") -> bytes:
    """A real PNG: one pixel of this colour (8-bit RGB), as any viewer opens it."""
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" + rgb))
        + chunk(b"IEND", b"")
    )


def test_magic_bytes_decide_what_an_image_is() -> None:
    assert sniff(png()) == "image/png"
    assert sniff(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00") == "image/jpeg"
    assert sniff(b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00") == "image/webp"
    assert sniff(b"RIFF\x1a\x00\x00\x00WAVEfmt ") is None  # a RIFF file, but a sound
    assert sniff(b"\x89PNG<script>alert(1)</script>") is None
    assert sniff(b"") is None


def stored(site: Site) -> set[Path]:
    folder = site.gw.data_dir / "photos"
    return set(folder.iterdir()) if folder.is_dir() else set()


def test_photos_on_an_order_real_bytes_checked_kept_and_shown_only_in_scope(site: Site) -> None:
    r = site.post(
        "res1", ORDERS, json={"category": "repair", "description": "cracked cover", "household": "b1-u1-101"}
    )
    assert r.status_code == 201, r.text
    order = r.json()["id"]
    photos = f"{ORDERS}/{order}/photos"
    before = stored(site)
    image = png()
    r = site.post("res1", photos, content=image, headers={"content-type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    photo = r.json()
    assert (photo["content_type"], photo["size"]) == ("image/png", len(image))
    # kept under a random name of its own, nothing of what she sent in it
    (path,) = stored(site) - before
    assert path.name == f"{photo['id']}.png" and len(photo["id"]) == 32 and path.read_bytes() == image
    for who in ("res1", "fam1", "pm1", "off1", "mnt1", "admin"):
        got = site.get(who, photo["url"])
        assert got.status_code == 200, (who, got.text)
        assert got.content == image and got.headers["content-type"] == "image/png"
        assert got.headers["x-content-type-options"] == "nosniff"
    for who in ("res3", "off2", "pm2"):  # a neighbour, another grid's officer, another site's staff
        assert site.get(who, photo["url"]).status_code == 404, who
        assert site.get(who, photos).status_code == 404, who
        assert site.post(who, photos, content=png()).status_code == 404, who
    assert [p["id"] for p in site.get("pm1", photos).json()["items"]] == [photo["id"]]
    events = site.get("pm1", f"{ORDERS}/{order}").json()["events"]
    assert [e["action"] for e in events][-1] == "photo" and events[-1]["data"]["photo"] == photo["id"]
    kept = stored(site)

    # refusals: each answers why, and nothing is stored
    fake = b"this is not an image, it only says image/png\n"
    r = site.post("res1", photos, content=fake, headers={"content-type": "image/png"})
    assert r.status_code == 415 and "JPEG, PNG or WebP" in r.text, r.text
    too_big = image + b"\x00" * (LIMIT + 1 - len(image))
    r = site.post("res1", photos, content=too_big, headers={"content-type": "image/png"})
    assert r.status_code == 413, r.text

    def streamed() -> Iterator[bytes]:  # chunked: no Content-Length to refuse it by
        yield image
        for _ in range(6):
            yield b"\x00" * (1 << 20)

    r = site.post("res1", photos, content=streamed(), headers={"content-type": "image/png"})
    assert r.status_code == 413, r.text
    r = site.post("res1", photos, content=b"")
    assert r.status_code == 422 and "empty" in r.text, r.text
    assert stored(site) == kept and len(site.get("pm1", photos).json()["items"]) == 1

    # six at most, whoever sends them
    for i, who in enumerate(("pm1", "res1", "off1", "fam1", "admin")):
        assert site.post(who, photos, content=png(bytes([i, i, i]))).status_code == 201, who
    r = site.post("pm1", photos, content=png())
    assert r.status_code == 422 and "at most 6" in r.text, r.text
    assert len(site.get("res1", photos).json()["items"]) == 6 and len(stored(site) - kept) == 5
    assert site.get("res1", f"{ORDERS}/{order}").json()["photos"] == 6
    assert [o["photos"] for o in site.get("res1", ORDERS).json()["items"] if o["id"] == order] == [6]

    # a withdrawn request takes none
    w = site.post(
        "res1", ORDERS, json={"category": "repair", "description": "never mind", "household": "b1-u1-101"}
    )
    site.post("res1", f"{ORDERS}/{w.json()['id']}/cancel", json={"reason": "fixed it myself"})
    before = stored(site)
    assert site.post("res1", f"{ORDERS}/{w.json()['id']}/photos", content=png()).status_code == 409
    assert stored(site) == before
