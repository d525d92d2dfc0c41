"""Image files in, model inputs out: reading uploads safely and converting them to what a model expects.

Everything here is a pure function of its inputs (no Streamlit, no global Pillow settings changed), so the app
can call it from any session thread. A file that cannot be used raises `ImageInputError` with a message meant
for the person who uploaded it; nothing else escapes for bad files.

Conversion, in order: first frame only, EXIF orientation applied, reduced in 8-bit (or 16-bit) precision to fit
the model's (H, W) with the aspect ratio kept, channels matched (luminance for grey models, grey repeated for
RGB models), optionally inverted (dark-on-light drawings for light-on-dark models), transparency composited onto
the model's background, then padded with that background to (H, W).
"""

from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

import numpy as np

from explorer.files import is_torch_tensor

if TYPE_CHECKING:  # torch is imported where it is used, so the app can read an upload's header before torch loads
    from torch import Tensor

ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")
UPLOAD_TYPES = ("png", "jpg", "jpeg", "webp", "bmp", "gif")
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, what Pillow's convert("L") uses


# The checks an upload can fail, each named at the start of its message (and in ImageInputError.check).
CHECKS = ("empty file", "file too large", "not an image", "damaged header", "too many pixels", "too small",
          "truncated", "out of memory", "cannot convert", "blank")


class ImageInputError(ValueError):
    """An uploaded file that cannot be used as an image; the message names the failed check, then says why."""

    def __init__(self, check: str, detail: str):
        self.check = check  # one of CHECKS
        self.detail = detail
        super().__init__(f"{check[0].upper()}{check[1:]}: {detail}")

    def __reduce__(self):  # picklable across processes (the fuzz benchmark's workers report errors back)
        return type(self), (self.check, self.detail)


@dataclass(frozen=True)
class ImageLimits:
    """Caps that keep one upload far from exhausting memory (configurable in the app)."""

    max_bytes: int = 16 * 1024 * 1024  # size of the file itself
    max_pixels: int = 16_000_000  # width x height, checked from the header before anything is decoded
    min_side: int = 4  # smaller images carry no usable picture


@dataclass
class ConvertedImage:
    """An image as the model sees it, and what was done to get there."""

    tensor: "Tensor"  # (C, H, W) float32 in [0, 1], the model's input shape
    original_size: tuple[int, int]  # (width, height) of the file's first frame
    original_mode: str  # Pillow mode of the file, e.g. "RGBA", "I;16", "P"
    file_format: str  # e.g. "PNG"
    inverted: bool
    notes: list[str] = field(default_factory=list)  # conversions worth telling the user about


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def open_image(data: bytes, limits: ImageLimits = ImageLimits()):
    """Validate and decode the first frame of an image file. Returns (PIL image, format, mode, notes).

    Raises ImageInputError for an empty, oversized, unreadable, truncated or too large (in pixels) file.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if data is None or len(data) == 0:
        raise ImageInputError("empty file", "the file is empty (0 bytes): choose an image file (PNG, JPEG, WebP, BMP or GIF).")
    if len(data) > limits.max_bytes:
        raise ImageInputError("file too large", f"the file is {_mb(len(data))}, over the upload limit of {_mb(limits.max_bytes)}.")
    try:
        img = Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
    except UnidentifiedImageError:
        raise ImageInputError(
            "not an image", "this file is not an image that can be read: use PNG, JPEG, WebP, BMP or GIF."
        ) from None
    except Image.DecompressionBombError as exc:
        raise ImageInputError(
            "too many pixels", f"the image declares too many pixels to decode safely (a decompression bomb?): {exc}"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        if isinstance(exc, EOFError) or "truncated" in str(exc).lower():  # the file ends inside its header
            raise ImageInputError("truncated", f"the file is cut short before its header ends ({exc}).") from None
        raise ImageInputError("damaged header", f"the file looks like an image but its header is damaged ({exc}).") from None
    width, height = img.size
    fmt, mode = img.format or "?", img.mode
    if width * height > limits.max_pixels:
        raise ImageInputError(
            "too many pixels", f"the image is {width} x {height} = {width * height:,} pixels, over the limit of {limits.max_pixels:,} "
            "pixels: scale it down before uploading (this guards against decompression bombs)."
        )
    if min(width, height) < limits.min_side:
        raise ImageInputError(
            "too small", f"the image is only {width} x {height} pixels; at least {limits.min_side} x {limits.min_side} is needed."
        )
    notes = []
    try:
        # is_animated reads ahead through the frames: a cut or damaged later frame fails here (found by fuzzing)
        if getattr(img, "is_animated", False):
            notes.append("animated image: only its first frame is used")
        img.seek(0)
        img.load()
        img = ImageOps.exif_transpose(img) if fmt in ("JPEG", "WEBP", "PNG") else img
    except Image.DecompressionBombError as exc:
        raise ImageInputError("too many pixels", f"the image is too large to decode safely: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as exc:
        raise ImageInputError(
            "truncated", f"the image data is damaged or cut short and cannot be decoded ({exc}). Try saving the file again."
        ) from None
    except MemoryError:
        raise ImageInputError("out of memory", "the image is too large to decode in the memory available.") from None
    return img, fmt, mode, notes


def _normalise_mode(img, notes: list[str]):
    """Bring any Pillow mode to one of L, LA, RGB, RGBA or F (floats in [0, 1])."""
    from PIL import Image

    mode = img.mode
    if mode in ("L", "LA", "RGB", "RGBA"):
        return img
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float32)
        top = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        notes.append(f"{'16' if top > 255 else '8'}-bit integer pixels scaled to [0, 1]")
        return Image.fromarray(np.clip(arr / top, 0.0, 1.0).astype(np.float32), mode="F")
    if mode == "F":
        arr = np.asarray(img, dtype=np.float32)
        return Image.fromarray(np.clip(np.nan_to_num(arr), 0.0, 1.0).astype(np.float32), mode="F")
    if mode == "1":
        return img.convert("L")
    if mode in ("P", "PA"):
        notes.append("palette image converted to colour")
        return img.convert("RGBA")
    if mode in ("La", "RGBa"):
        return img.convert(mode.upper())
    if mode == "CMYK":
        notes.append("CMYK converted to RGB (no colour profile applied)")
        return img.convert("RGB")
    return img.convert("RGB")  # YCbCr, LAB, HSV, ...


def _fit_size(width: int, height: int, out_h: int, out_w: int) -> tuple[int, int]:
    """(w, h) that fits inside (out_w, out_h) with the aspect ratio kept."""
    scale = min(out_h / height, out_w / width)
    return max(1, min(out_w, round(width * scale))), max(1, min(out_h, round(height * scale)))


def _to_arrays(img) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W, 3) colour in [0, 1] and (H, W) alpha (None when fully opaque)."""
    arr = np.asarray(img, dtype=np.float32)
    if img.mode != "F":
        arr = arr / 255.0
    if arr.ndim == 2:
        arr = arr[..., None]
    alpha = None
    if img.mode in ("LA", "RGBA"):
        alpha = arr[..., -1]
        arr = arr[..., :-1]
        if alpha.min() >= 1.0:
            alpha = None
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    return arr, alpha


def _background_vector(background: float | Sequence[float] | np.ndarray, channels: int) -> np.ndarray:
    bg = np.atleast_1d(np.asarray(background, dtype=np.float32))
    if bg.size == 1:
        return np.repeat(bg, channels)
    if bg.size == 3 and channels == 1:
        return np.array([float(bg @ LUMA)], dtype=np.float32)
    if bg.size != channels:
        raise ValueError(f"background has {bg.size} values for a {channels}-channel model")
    return bg


def decide_invert(colour: np.ndarray, alpha: np.ndarray | None, background_luma: float) -> bool:
    """Whether a picture should be inverted for a model whose images sit on `background_luma` (0 dark, 1 light).

    Only for drawing-like models (background near black or white). With transparency, the opaque strokes are
    inverted when they are closer to the background than to its opposite (black ink on a black model); without,
    the picture is inverted when its border is closer to the opposite of the background (a white sheet).
    """
    if 0.2 < background_luma < 0.8:
        return False
    luma = colour @ LUMA
    if alpha is not None and alpha.max() > 0:
        ink = float((luma * alpha).sum() / alpha.sum())
        return abs(ink - background_luma) < abs(ink - (1 - background_luma))
    border = np.concatenate([luma[0], luma[-1], luma[:, 0], luma[:, -1]])
    edge = float(border.mean())
    return abs(edge - background_luma) > abs(edge - (1 - background_luma))


DIGIT_BOX = 20  # MNIST's preparation: the ink's longest side is scaled to 20 px, then centred by mass in 28 x 28
INK_LEVEL = 0.2  # after the paper level is removed and the contrast stretched, what counts as ink for the crop


def prepare_digit(ink: np.ndarray, out_h: int = 28, out_w: int = 28, box: int | None = None) -> np.ndarray:
    """MNIST-style preparation of one picture of a digit: (H, W) ink in [0, 1] (high = ink; invert dark-on-light
    pictures first) -> (out_h, out_w) float32 in [0, 1] on a 0 background.

    The paper's level (the median of the picture's border) is subtracted and the rest stretched so the darkest
    ink is 1; the picture is cropped to the ink (pixels above INK_LEVEL), its longest side scaled to `box` px
    (20 of 28, scaled with the output) with the aspect ratio kept (area-weighted), and placed so its centre of
    mass is the output's centre (integer shift, as MNIST was made). A picture with no ink gives all zeros.
    This is the ONE preparation of drawings and digit photos; the page's drawing canvas mirrors it."""
    from PIL import Image

    a = np.asarray(ink, dtype=np.float32)
    box = box or max(1, round(DIGIT_BOX * min(out_h, out_w) / 28))
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    a = np.clip(a - float(np.median(border)), 0.0, None)
    top = float(a.max())
    out = np.zeros((out_h, out_w), dtype=np.float32)
    if top <= 1e-3:
        return out
    a = a / top
    rows, cols = np.flatnonzero((a > INK_LEVEL).any(1)), np.flatnonzero((a > INK_LEVEL).any(0))
    a = a[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = a.shape
    scale = box / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    small = np.asarray(Image.fromarray(a, mode="F").resize((new_w, new_h), resample), dtype=np.float32)
    small = np.clip(small, 0.0, 1.0)
    mass = small.sum()
    ys, xs = np.indices(small.shape)
    cy, cx = (ys * small).sum() / mass, (xs * small).sum() / mass
    top_y = int(round((out_h - 1) / 2 - cy))
    left_x = int(round((out_w - 1) / 2 - cx))
    # paste with clipping at the edges (a lopsided digit may be pushed partly out, as MNIST's were not)
    y0, x0 = max(0, top_y), max(0, left_x)
    y1, x1 = min(out_h, top_y + new_h), min(out_w, left_x + new_w)
    out[y0:y1, x0:x1] = small[y0 - top_y:y1 - top_y, x0 - left_x:x1 - left_x]
    return out


def prepare_drawing(raster: np.ndarray, out_h: int = 28, out_w: int = 28) -> np.ndarray:
    """A drawing canvas's raster (S, S) uint8, white ink on black (what the app's drawing canvas sends on
    release) -> (out_h, out_w) float32 in [0, 1], prepared by `prepare_digit` as the page prepared it while
    drawing. Raises ImageInputError("blank") when there is no ink."""
    a = np.asarray(raster)
    if a.ndim != 2 or a.dtype != np.uint8 or min(a.shape) < 1:
        raise ImageInputError("cannot convert", f"a drawing is a 2-D uint8 raster, got {a.dtype} {a.shape}.")
    out = prepare_digit(a.astype(np.float32) / 255, out_h, out_w)
    if not out.any():
        raise ImageInputError("blank", "the drawing is blank: draw a digit in the box, then release.")
    return out


def convert_image(
    img, shape: tuple[int, int, int], background: float | Sequence[float] | np.ndarray = 0.0,
    invert: bool | None = False, digit: bool = False,
) -> tuple[Tensor, bool, list[str]]:
    """A decoded Pillow image -> ((C, H, W) float tensor in [0, 1], inverted?, notes) for a model of `shape`.

    `invert`: True, False, or None to decide automatically (see `decide_invert`). `digit`: for grey models of
    MNIST-like data (dark background), prepare the picture as MNIST was (`prepare_digit`: the paper removed, the
    ink cropped, scaled to 20 px and centred by mass) instead of fitting the whole picture.
    """
    from PIL import Image

    import torch

    channels, out_h, out_w = (int(s) for s in shape)
    if channels not in (1, 3):
        raise ImageInputError("cannot convert", f"the model expects {channels}-channel images; only grey (1) or RGB (3) are supported.")
    notes: list[str] = []
    img = _normalise_mode(img, notes)
    if digit and channels == 1:
        return _convert_digit(img, (out_h, out_w), background, invert, notes)
    w, h = img.size
    new_w, new_h = _fit_size(w, h, out_h, out_w)
    if (new_w, new_h) != (w, h):
        shrinking = new_w < w or new_h < h
        # Pillow premultiplies alpha when resizing LA / RGBA, so transparent pixels do not bleed colour
        resample = Image.Resampling.LANCZOS if shrinking else Image.Resampling.BILINEAR
        img = img.resize((new_w, new_h), resample, reducing_gap=3.0 if shrinking and img.mode != "F" else None)
        notes.append(f"resized from {w} x {h} to {new_w} x {new_h} (aspect ratio kept)")
    colour, alpha = _to_arrays(img)
    bg = _background_vector(background, channels)
    bg_luma = float(bg.mean()) if channels == 1 else float(bg @ LUMA)
    do_invert = decide_invert(colour, alpha, bg_luma) if invert is None else bool(invert)
    if do_invert:
        colour = 1.0 - colour
        notes.append("inverted" + (" (automatic: the picture is drawn the other way round)" if invert is None else ""))
    content = colour @ LUMA if channels == 1 else colour  # (h, w) or (h, w, 3)
    if content.ndim == 2:
        content = content[..., None]
    if alpha is not None:
        content = alpha[..., None] * content + (1.0 - alpha[..., None]) * bg
        notes.append("transparency composited onto the model's background")
    canvas = np.empty((out_h, out_w, channels), dtype=np.float32)
    canvas[...] = bg
    top, left = (out_h - new_h) // 2, (out_w - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = content
    if (new_h, new_w) != (out_h, out_w):
        notes.append(f"padded to {out_w} x {out_h} with the background")
    return torch.from_numpy(np.clip(canvas, 0.0, 1.0)).permute(2, 0, 1).contiguous(), do_invert, notes


def _convert_digit(img, size: tuple[int, int], background, invert: bool | None,
                   notes: list[str]) -> tuple[Tensor, bool, list[str]]:
    """convert_image's `digit` path: the whole-resolution picture through `prepare_digit`."""
    import torch

    colour, alpha = _to_arrays(img)
    bg_luma = float(np.asarray(background, dtype=np.float32).mean())
    if alpha is not None:  # transparency: a stroke layer; what is not drawn is the model's background
        luma = colour @ LUMA
        do_invert = decide_invert(colour, alpha, bg_luma) if invert is None else bool(invert)
        ink = ((1.0 - luma) if do_invert else luma) * alpha
        notes.append("transparency composited onto the model's background")
    else:
        do_invert = decide_invert(colour, None, bg_luma) if invert is None else bool(invert)
        luma = colour @ LUMA
        ink = 1.0 - luma if do_invert else luma
    if do_invert:
        notes.append("inverted" + (" (automatic: the picture is drawn the other way round)" if invert is None else ""))
    out = prepare_digit(ink, *size)
    if not out.any():
        raise ImageInputError("blank", "no ink was found in the picture: it is blank (or all one shade).")
    notes.append(f"prepared as MNIST was: the ink cropped, scaled to {DIGIT_BOX} px and centred by mass")
    return torch.from_numpy(out[None]).contiguous(), do_invert, notes


def native_shape(width: int, height: int, shape: tuple[int, int, int], size_multiple: int = 0) -> tuple[int, int, int]:
    """The (C, H, W) an image of width x height is conformed to: its own size when the model takes any size that is a
    multiple of size_multiple (> 0; Capabilities.size_multiple) and both sides are, else the model's shape."""
    if size_multiple > 0 and width % size_multiple == 0 and height % size_multiple == 0:
        return (shape[0], int(height), int(width))
    return tuple(shape)


def load_image(
    data: bytes, shape: tuple[int, int, int], background: float | Sequence[float] | np.ndarray = 0.0,
    invert: bool | None = False, limits: ImageLimits = ImageLimits(), digit: bool = False, size_multiple: int = 0,
) -> ConvertedImage:
    """Bytes of an image file -> the model's input (C, H, W). Raises ImageInputError for unusable files.
    digit: MNIST-like preparation (see convert_image). size_multiple > 0: a model that takes any multiple of it
    (Capabilities.size_multiple) gets an image whose sides are multiples at the image's own size (`native_shape`)."""
    img, fmt, mode, notes = open_image(data, limits)
    own = native_shape(img.size[0], img.size[1], shape, 0 if digit else size_multiple)
    if own != tuple(shape):
        notes = notes + [f"encoded at its own size {own[2]} x {own[1]} (the model takes any multiple of {size_multiple})"]
        shape = own
    try:
        tensor, inverted, more = convert_image(img, shape, background, invert, digit)
    except MemoryError:
        raise ImageInputError("out of memory", "the image is too large to convert in the memory available.") from None
    except (OSError, ValueError) as exc:
        if isinstance(exc, ImageInputError):
            raise
        raise ImageInputError("cannot convert", f"the image could not be converted ({exc}).") from None
    return ConvertedImage(tensor, img.size, mode, fmt, inverted, notes + more)


def estimate_background(images: Tensor | np.ndarray) -> np.ndarray:
    """The colour images sit on: per-channel median of the one-pixel border of (N, C, H, W) images -> (C,)."""
    import torch

    x = torch.as_tensor(images).float()
    border = torch.cat([x[..., 0, :], x[..., -1, :], x[..., :, 0], x[..., :, -1]], dim=-1)  # (N, C, 2H + 2W)
    return border.transpose(0, 1).reshape(x.shape[1], -1).median(dim=1).values.numpy().astype(np.float32)


def conform_batch(
    images: Tensor, shape: tuple[int, int, int], background: float | Sequence[float] | np.ndarray = 0.0,
) -> Tensor:
    """Images (N, C', H', W') in [0, 1] from another data set -> (N, C, H, W): channels matched, resized with the
    aspect ratio kept (antialiased) and padded with the background. Same shape in, same tensor out."""
    import torch
    import torch.nn.functional as F

    channels, out_h, out_w = (int(s) for s in shape)
    x = images.float()
    if tuple(x.shape[1:]) == (channels, out_h, out_w):
        return x
    if x.shape[1] != channels:
        if channels == 1:
            x = (x[:, :3] * torch.from_numpy(LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)
        else:
            x = x[:, :1].expand(-1, channels, -1, -1)
    h, w = x.shape[-2:]
    new_w, new_h = _fit_size(w, h, out_h, out_w)
    if (new_h, new_w) != (h, w):
        x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
    bg = torch.from_numpy(_background_vector(background, channels)).view(1, channels, 1, 1)
    out = bg.expand(len(x), channels, out_h, out_w).clone()
    top, left = (out_h - new_h) // 2, (out_w - new_w) // 2
    out[:, :, top : top + new_h, left : left + new_w] = x
    return out


def to_uint8(image: Tensor | np.ndarray, scale: int = 1) -> np.ndarray:
    """(C, H, W) or (H, W) in [0, 1] -> (H*s, W*s) or (H*s, W*s, 3) uint8, enlarged by pixel repetition."""
    arr = image.detach().float().cpu().numpy() if is_torch_tensor(image) else np.asarray(image, dtype=np.float32)
    if arr.ndim == 3:
        arr = arr[0] if arr.shape[0] == 1 else np.transpose(arr, (1, 2, 0))
    out = np.round(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8)
    if scale > 1:
        out = out.repeat(scale, axis=0).repeat(scale, axis=1)
    return out


def display_scale(height: int, width: int, target: int = 168) -> int:
    """Integer enlargement that brings the longer side close to `target` pixels (at least 1)."""
    return max(1, math.floor(target / max(height, width)))


def to_png(image: Tensor | np.ndarray, scale: int = 1) -> bytes:
    """PNG bytes of one image (C, H, W) or (H, W) in [0, 1]."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(to_uint8(image, scale)).save(buf, format="PNG")
    return buf.getvalue()


def to_gif(frames: Tensor | np.ndarray, scale: int = 1, duration_ms: int = 120, boomerang: bool = True) -> bytes:
    """Animated GIF bytes of frames (T, C, H, W) in [0, 1]; `boomerang` plays forward then back, looping."""
    from PIL import Image

    pics = [Image.fromarray(to_uint8(f, scale)) for f in frames]
    if boomerang and len(pics) > 2:
        pics = pics + pics[-2:0:-1]
    buf = io.BytesIO()
    pics[0].save(buf, format="GIF", save_all=True, append_images=pics[1:], duration=duration_ms, loop=0)
    return buf.getvalue()


def make_grid(images: Tensor, nrow: int, pad: int = 1, pad_value: float = 0.5) -> Tensor:
    """Tile images (N, C, H, W) into one (C, rows*(H+pad)+pad, nrow*(W+pad)+pad) picture, row by row."""
    import torch
    import torch.nn.functional as F

    n, c, h, w = images.shape
    rows = max(1, math.ceil(n / nrow))
    cells = F.pad(images, (0, pad, 0, pad), value=pad_value)  # (N, C, H+p, W+p)
    filler = torch.full((rows * nrow - n, c, h + pad, w + pad), pad_value, dtype=images.dtype, device=images.device)
    cells = torch.cat([cells, filler]).view(rows, nrow, c, h + pad, w + pad)
    grid = cells.permute(2, 0, 3, 1, 4).reshape(c, rows * (h + pad), nrow * (w + pad))
    return F.pad(grid, (pad, 0, pad, 0), value=pad_value)
