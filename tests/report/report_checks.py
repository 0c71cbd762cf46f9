"""Checks shared by the report tests: valid PNGs, a self-contained HTML page."""
from __future__ import annotations

import base64
import re
import struct
from pathlib import Path

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MIN_PNG_BYTES = 3_000
MAX_PNG_BYTES = 1_500_000
MIN_PX, MAX_PX = 300, 2_500


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the IHDR chunk of PNG bytes; AssertionError when not a PNG."""
    assert data[:8] == PNG_MAGIC, f"not a PNG (starts {data[:8]!r})"
    assert data[12:16] == b"IHDR", "PNG without IHDR first"
    return struct.unpack(">II", data[16:24])


def check_png(data: bytes, what: str = "figure") -> tuple[int, int]:
    assert MIN_PNG_BYTES <= len(data) <= MAX_PNG_BYTES, f"{what}: {len(data)} bytes is not a sensible PNG size"
    w, h = png_size(data)
    assert MIN_PX <= w <= MAX_PX and MIN_PX // 2 <= h <= MAX_PX * 2, f"{what}: {w}x{h} px"
    try:
        from PIL import Image
    except ImportError:
        return w, h
    import io
    with Image.open(io.BytesIO(data)) as im:
        im.verify()
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        assert im.size == (w, h)
    return w, h


def check_png_file(path: Path) -> tuple[int, int]:
    return check_png(Path(path).read_bytes(), str(path))


_URL_ATTR = re.compile(r"""\b(?:src|href|srcset|poster|data|action)\s*=\s*["']?\s*([^"'\s>]+)""", re.I)


def check_self_contained(html: str) -> int:
    """No script, no external resource; every image is an embedded valid PNG. Returns the image count."""
    low = html.lower()
    assert "<script" not in low, "the report must not need JavaScript"
    assert "<link" not in low and "@import" not in low, "no external stylesheet"
    assert not re.search(r"url\(\s*['\"]?\s*(?:https?:)?//", low), "no remote url() in CSS"
    for url in _URL_ATTR.findall(html):
        assert url.startswith("data:image/png;base64,") or url.startswith("#"), f"external reference {url[:80]!r}"
    images = re.findall(r'<img[^>]*src="data:image/png;base64,([^"]+)"', html)
    for b64 in images:
        check_png(base64.b64decode(b64), "embedded image")
    return len(images)
