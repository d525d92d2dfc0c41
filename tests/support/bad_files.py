"""Files that an upload must survive, built in memory: each maps a name to (filename, bytes, mime type).

Huge images are written as genuine PNG streams row by row through zlib, so a 13000 x 13000 picture costs a
couple of seconds and kilobytes, never the gigabytes its pixels would take.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib

import numpy as np
from PIL import Image


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def blank_png(width: int, height: int, bit_depth: int = 8) -> bytes:
    """A valid all-black greyscale PNG of any size, streamed (filter byte 0 + zero bytes per row)."""
    row = bytes(1 + (width * bit_depth + 7) // 8)
    comp = zlib.compressobj(6)
    parts = [comp.compress(row) for _ in range(height)]
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b"")


def encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def digit_like(size: int = 28, dark_on_light: bool = False) -> np.ndarray:
    """A uint8 'drawing': a thick ring, white on black (or black on white)."""
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(yy - size / 2 + 0.5, xx - size / 2 + 0.5)
    ring = ((r > size * 0.22) & (r < size * 0.36)).astype(np.uint8) * 255
    return 255 - ring if dark_on_light else ring


@functools.lru_cache(maxsize=1)
def huge_under_limit() -> bytes:
    """13000 x 13000 = 169 M pixels: under Pillow's error limit (2 x 89.5 M), over its warning limit."""
    return blank_png(13000, 13000)


@functools.lru_cache(maxsize=1)
def bomb() -> bytes:
    """A 1-bit 20000 x 20000 PNG (400 M pixels, ~50 kB): Pillow refuses it as a decompression bomb."""
    return blank_png(20000, 20000, bit_depth=1)


def truncated_png() -> bytes:
    rng = np.random.default_rng(0)
    data = encode(Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8)))
    return data[: len(data) // 2]


def corrupt_png() -> bytes:
    """A PNG whose pixel data is overwritten in the middle (the chunk checksum no longer matches)."""
    rng = np.random.default_rng(1)
    data = bytearray(encode(Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8))))
    mid = len(data) // 2
    data[mid : mid + 40] = bytes(40)
    return bytes(data)


def animated_gif() -> bytes:
    frames = [Image.fromarray(digit_like(28)), Image.fromarray(255 - digit_like(28))]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def cmyk_jpeg() -> bytes:
    return encode(Image.fromarray(digit_like(40)).convert("CMYK"), "JPEG", quality=95)


def sixteen_bit_png() -> bytes:
    arr = digit_like(32).astype(np.uint16) * 257  # 0 or 65535
    return encode(Image.fromarray(arr))


def palette_png() -> bytes:
    return encode(Image.fromarray(digit_like(28)).convert("P"))


def rgba_png() -> bytes:
    """Black ink on a transparent sheet: needs compositing (and inversion for a light-on-dark model)."""
    ink = digit_like(28)
    rgba = np.zeros((28, 28, 4), dtype=np.uint8)
    rgba[..., 3] = ink  # colour black, opaque where the ring is
    return encode(Image.fromarray(rgba, "RGBA"))


def one_by_one() -> bytes:
    return encode(Image.fromarray(np.full((1, 1), 200, dtype=np.uint8)))


# name -> (filename, bytes factory, mime, usable?, words the message or note must contain)
CASES = {
    "not_an_image": ("notes.png", lambda: b"just some text, not an image\n" * 20, "image/png", False, "not an image"),
    "empty": ("empty.png", lambda: b"", "image/png", False, "empty"),
    "truncated": ("cut.png", truncated_png, "image/png", False, "cut short"),
    "corrupt": ("corrupt.png", corrupt_png, "image/png", False, "damaged"),
    "bomb": ("bomb.png", bomb, "image/png", False, "pixels"),
    "huge_under_limit": ("huge.png", huge_under_limit, "image/png", False, "over the limit"),
    "sixteen_bit": ("deep.png", sixteen_bit_png, "image/png", True, "16-bit"),
    "cmyk": ("print.jpg", cmyk_jpeg, "image/jpeg", True, "CMYK"),
    "palette": ("palette.png", palette_png, "image/png", True, "palette"),
    "rgba": ("ink.png", rgba_png, "image/png", True, "transparency"),
    "animated_gif": ("anim.gif", animated_gif, "image/gif", True, "first frame"),
    "one_by_one": ("dot.png", one_by_one, "image/png", False, "1 x 1"),
}
