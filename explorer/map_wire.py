"""The big map's wire format and selection arithmetic, for every host of frontend/src/big_map/ (the Streamlit
component ui/components/bigmap.py, the notebook widget explorer.notebook.LatentMap): coordinates quantized to
uint16 over a square `bounds`, and one bytes payload

    b"BMAP" | uint32 LE header length | header JSON (utf-8) | zero padding to 8 | blobs, each padded to 8

whose header's "blobs" maps a name to [offset from the blobs' start, byte length, dtype] (frontend/src/big_map/wire.js
reads it). The page selects on the quantized coords; `select_box` / `select_lasso` give Python the same indices.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence

import numpy as np

MAGIC = b"BMAP"
Q = 65535  # quantized coordinate range
MAX_CODE_VALUES = 4_000_000  # codes (N, D) go to the page as float16 when N*D is at most this (8 MB)
FIRST = 200  # how many of a selection's first indices the page reports


def data_bounds(coords: np.ndarray, pad: float = 0.02) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1): a square around the coords' range, padded by `pad` of the span on each side."""
    c = np.asarray(coords, dtype=np.float64)
    lo, hi = np.nanmin(c, axis=0), np.nanmax(c, axis=0)
    # square, so that one quantized unit is the same distance on both axes (the map keeps the data's aspect)
    half = max(float(np.max(hi - lo)), 1e-9) * (0.5 + pad)
    mid = (lo + hi) / 2
    return float(mid[0] - half), float(mid[1] - half), float(mid[0] + half), float(mid[1] + half)


def quantize(coords: np.ndarray, bounds: Sequence[float]) -> np.ndarray:
    """(N, 2) uint16: round((c - lo) / (hi - lo) * 65535), clipped; what the page holds and selects on."""
    x0, y0, x1, y1 = bounds
    c = np.asarray(coords, dtype=np.float64)
    q = np.empty(c.shape, dtype=np.uint16)
    q[:, 0] = np.clip(np.rint((c[:, 0] - x0) / (x1 - x0) * Q), 0, Q)
    q[:, 1] = np.clip(np.rint((c[:, 1] - y0) / (y1 - y0) * Q), 0, Q)
    return q


def dequantize(q: np.ndarray, bounds: Sequence[float]) -> np.ndarray:
    x0, y0, x1, y1 = bounds
    q = np.asarray(q, dtype=np.float64)
    return np.stack([x0 + q[:, 0] / Q * (x1 - x0), y0 + q[:, 1] / Q * (y1 - y0)], axis=1)


def select_box(q: np.ndarray, qbox: Sequence[int]) -> np.ndarray:
    """Indices (ascending) of the quantized points inside the inclusive quantized box, as the page selects."""
    x0, y0, x1, y1 = (int(v) for v in qbox)
    inside = (q[:, 0] >= x0) & (q[:, 0] <= x1) & (q[:, 1] >= y0) & (q[:, 1] <= y1)
    return np.flatnonzero(inside)


def select_lasso(q: np.ndarray, polygon: Sequence[Sequence[float]]) -> np.ndarray:
    """Indices inside the polygon (quantized units, even-odd rule, the page's test), ascending."""
    poly = np.asarray(polygon, dtype=np.float64)
    lo, hi = poly.min(0), poly.max(0)
    qq = q.astype(np.float64)
    cand = np.flatnonzero((qq[:, 0] >= lo[0]) & (qq[:, 0] <= hi[0]) & (qq[:, 1] >= lo[1]) & (qq[:, 1] <= hi[1]))
    x, y = qq[cand, 0], qq[cand, 1]
    inside = np.zeros(cand.size, dtype=bool)
    j = len(poly) - 1
    for i in range(len(poly)):
        xi, yi, xj, yj = poly[i, 0], poly[i, 1], poly[j, 0], poly[j, 1]
        crosses = (yi > y) != (yj > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xcross = (xj - xi) * (y - yi) / (yj - yi) + xi
        inside ^= crosses & (x < xcross)
        j = i
    return cand[inside]


def _pad8(n: int) -> int:
    return (-n) % 8


def pack(header: dict, blobs: dict[str, np.ndarray | bytes] | None = None) -> bytes:
    """The element's data: MAGIC | u32 header length | header JSON | pad8 | blobs (each padded to 8)."""
    parts: list[bytes] = []
    table: dict[str, list] = {}
    offset = 0
    for name, blob in (blobs or {}).items():
        if isinstance(blob, np.ndarray):
            raw, dtype = np.ascontiguousarray(blob).astype(blob.dtype.newbyteorder("<"), copy=False).tobytes(), blob.dtype.name
        else:
            raw, dtype = bytes(blob), "bytes"
        table[name] = [offset, len(raw), dtype]
        parts += [raw, b"\0" * _pad8(len(raw))]
        offset += len(raw) + _pad8(len(raw))
    head = json.dumps({**header, "blobs": table}, separators=(",", ":")).encode()
    pre = MAGIC + struct.pack("<I", len(head)) + head
    return pre + b"\0" * _pad8(len(pre)) + b"".join(parts)


def unpack(payload: bytes) -> tuple[dict, dict[str, np.ndarray | bytes]]:
    """The inverse of `pack` (for tests)."""
    assert payload[:4] == MAGIC
    (n,) = struct.unpack("<I", payload[4:8])
    header = json.loads(payload[8:8 + n])
    start = 8 + n + _pad8(8 + n)
    out: dict[str, np.ndarray | bytes] = {}
    for name, (off, length, dtype) in header.pop("blobs").items():
        raw = payload[start + off:start + off + length]
        out[name] = raw if dtype == "bytes" else np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"))
    return header, out


def point_blobs(coords: np.ndarray, labels: np.ndarray, values: np.ndarray | None, bounds: Sequence[float],
                n_classes: int) -> tuple[dict[str, np.ndarray], dict]:
    """The points' blobs (qx, qy uint16, label uint8/16, value uint8) and the header fields that describe them."""
    q = quantize(coords, bounds)
    lab = np.asarray(labels).reshape(-1)
    blobs: dict[str, np.ndarray] = {"qx": q[:, 0].copy(), "qy": q[:, 1].copy(),
                                    "label": lab.astype(np.uint8 if n_classes <= 256 else np.uint16)}
    meta: dict = {"n": int(q.shape[0]), "bounds": [float(b) for b in bounds]}
    if values is not None:
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        finite = np.isfinite(v)
        lo, hi = (float(np.min(v[finite])), float(np.max(v[finite]))) if finite.any() else (0.0, 1.0)
        hi = hi if hi > lo else lo + 1.0
        blobs["value"] = np.where(finite, np.clip(np.rint((v - lo) / (hi - lo) * 255), 0, 255), 0).astype(np.uint8)
        meta["value_range"] = [lo, hi]
    return blobs, meta


__all__ = ["FIRST", "MAGIC", "MAX_CODE_VALUES", "Q", "data_bounds", "dequantize", "pack", "point_blobs",
           "quantize", "select_box", "select_lasso", "unpack"]
