"""Inputs for the fuzz tests and bench/bench_fuzz.py: valid image files built with PIL, and mutations of them.

Every mutation is a pure function of (file bytes, random.Random), so a case is reproduced from its base file,
its mutation kind and one integer seed: `mutate(kind, base, seed)`. The kinds:

- random_bytes: bytes from nowhere, sometimes behind a real format's magic number
- truncate: the file cut short at any point
- header_flip: bits flipped in the first 64 bytes
- chunk_length: a length field rewritten (PNG chunk lengths, JPEG segment lengths, RIFF / VP8 sizes, BMP
  header size and pixel offset, GIF sub-block sizes)
- dimensions: width / height fields set to 0, 1, odd or huge values (PNG with its CRC fixed so the value is read)
- palette: palette length, entry count or colour-table flags changed (PNG PLTE / tRNS, GIF, BMP colours used)
- body_flip: bytes changed anywhere in the file
"""

from __future__ import annotations

import functools
import io
import random
import struct
import zlib

import numpy as np

KINDS = ("random_bytes", "truncate", "header_flip", "chunk_length", "dimensions", "palette", "body_flip")
ODD_SIZES = (0, 1, 2, 3, 4, 5, 255, 256, 4095, 65535, 65536, 1 << 24, (1 << 31) - 1, 1 << 31, (1 << 32) - 1)
MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"GIF87a", b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"BM")


def _picture(h: int, w: int, channels: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    base = ((np.sin(xx / 3.0) + np.cos(yy / 4.0)) * 60 + 128).astype(np.uint8)
    noise = rng.integers(0, 40, size=(h, w, channels), dtype=np.uint8)
    return np.clip(base[..., None] + noise, 0, 255).astype(np.uint8).squeeze()


@functools.lru_cache(maxsize=1)
def base_files() -> dict[str, bytes]:
    """name -> bytes of small valid files, one per format and interesting mode."""
    from PIL import Image

    def enc(img, fmt, **kw) -> bytes:
        buf = io.BytesIO()
        img.save(buf, format=fmt, **kw)
        return buf.getvalue()

    grey = Image.fromarray(_picture(24, 20, 1), "L")
    rgb = Image.fromarray(_picture(20, 24, 3), "RGB")
    rgba = Image.fromarray(_picture(16, 16, 4), "RGBA")
    pal = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    deep = Image.fromarray(_picture(12, 12, 1).astype(np.uint16) * 257)  # mode I;16
    frames = [pal, rgb.rotate(90).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    trns = pal.copy()
    trns.info["transparency"] = 3
    return {
        "png_l": enc(grey, "PNG"), "png_rgb": enc(rgb, "PNG"), "png_rgba": enc(rgba, "PNG"),
        "png_p": enc(pal, "PNG"), "png_p_trns": enc(trns, "PNG"), "png_16": enc(deep, "PNG"),
        "jpeg_l": enc(grey, "JPEG", quality=80), "jpeg_rgb": enc(rgb, "JPEG", quality=80),
        "jpeg_progressive": enc(rgb, "JPEG", quality=70, progressive=True),
        "gif": enc(pal, "GIF"), "gif_anim": buf.getvalue(),
        "webp_lossy": enc(rgb, "WEBP", quality=70), "webp_lossless": enc(rgba, "WEBP", lossless=True),
        "bmp_rgb": enc(rgb, "BMP"), "bmp_p": enc(pal, "BMP"), "bmp_l": enc(grey, "BMP"),
    }


def _fmt(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "png"
    if data.startswith(b"\xff\xd8"):
        return "jpeg"
    if data.startswith(b"GIF"):
        return "gif"
    if data.startswith(b"RIFF"):
        return "webp"
    if data.startswith(b"BM"):
        return "bmp"
    return "?"


# -- PNG ---------------------------------------------------------------------------------------------------------
def png_chunks(data: bytes) -> list[tuple[int, bytes, bytes]]:
    """(offset of the length field, type, body) of each chunk of a well-formed PNG."""
    out, pos = [], 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        out.append((pos, kind, data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return out


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_replace(data: bytes, kind: bytes, body: bytes | None) -> bytes:
    """The PNG with chunk `kind` given a new body (CRC fixed), or removed when body is None."""
    out = bytearray(data[:8])
    for pos, k, old in png_chunks(data):
        if k == kind:
            if body is not None:
                out += png_chunk(k, body)
        else:
            out += data[pos:pos + 12 + len(old)]
    return bytes(out)


def png_set_size(data: bytes, width: int, height: int) -> bytes:
    ihdr = next(body for _, k, body in png_chunks(data) if k == b"IHDR")
    return png_replace(data, b"IHDR", struct.pack(">II", width & 0xFFFFFFFF, height & 0xFFFFFFFF) + ihdr[8:])


# -- JPEG --------------------------------------------------------------------------------------------------------
def jpeg_segments(data: bytes) -> list[tuple[int, int]]:
    """(offset of the marker, marker byte) of each length-carrying segment before the scan data."""
    out, pos = [], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        out.append((pos, marker))
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            break
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        pos += 2 + length
    return out


def _put(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    size = struct.calcsize(fmt)
    if offset < 0 or offset + size > len(data):
        return data
    out = bytearray(data)
    out[offset:offset + size] = struct.pack(fmt, value)
    return bytes(out)


def _size_value(rnd: random.Random, bits: int, signed: bool = False) -> int:
    top = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
    low = -(1 << (bits - 1)) if signed else 0
    value = rnd.choice(ODD_SIZES + (rnd.randint(0, 100_000),))
    if signed and rnd.random() < 0.3:
        value = -value
    return max(low, min(top, value))


# -- mutations ---------------------------------------------------------------------------------------------------
def m_random_bytes(data: bytes, rnd: random.Random) -> bytes:
    body = rnd.randbytes(rnd.choice((0, 1, 7, 64, 500, 3000)))
    return (rnd.choice(MAGIC) + body) if rnd.random() < 0.5 else body


def m_truncate(data: bytes, rnd: random.Random) -> bytes:
    return data[:rnd.randrange(0, len(data))]


def m_header_flip(data: bytes, rnd: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rnd.randint(1, 4)):
        i = rnd.randrange(0, min(64, len(out)))
        out[i] ^= 1 << rnd.randrange(8)
    return bytes(out)


def m_body_flip(data: bytes, rnd: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rnd.randint(1, 8)):
        out[rnd.randrange(len(out))] = rnd.randrange(256)
    return bytes(out)


def m_chunk_length(data: bytes, rnd: random.Random) -> bytes:
    fmt = _fmt(data)
    if fmt == "png":
        pos, _, _ = rnd.choice(png_chunks(data))
        return _put(data, pos, ">I", _size_value(rnd, 32))
    if fmt == "jpeg":
        pos, _ = rnd.choice(jpeg_segments(data))
        return _put(data, pos + 2, ">H", _size_value(rnd, 16))
    if fmt == "webp":
        return _put(data, rnd.choice((4, 16)), "<I", _size_value(rnd, 32))  # RIFF size, first chunk's size
    if fmt == "bmp":
        return _put(data, rnd.choice((2, 10, 14, 34)), "<I", _size_value(rnd, 32))  # file, offset, DIB, image size
    if fmt == "gif":  # a sub-block size byte somewhere after the header
        out = bytearray(data)
        out[rnd.randrange(13, len(out))] = rnd.choice((0, 1, 255, rnd.randrange(256)))
        return bytes(out)
    return m_body_flip(data, rnd)


def m_dimensions(data: bytes, rnd: random.Random) -> bytes:
    fmt = _fmt(data)
    if fmt == "png":
        return png_set_size(data, _size_value(rnd, 32), _size_value(rnd, 32))
    if fmt == "jpeg":
        sof = [pos for pos, marker in jpeg_segments(data) if marker in (0xC0, 0xC1, 0xC2)]
        if sof:
            data = _put(data, sof[0] + 5, ">H", _size_value(rnd, 16))  # height
            return _put(data, sof[0] + 7, ">H", _size_value(rnd, 16))  # width
    if fmt == "gif":  # logical screen, then the first image descriptor's size
        data = _put(data, rnd.choice((6, 8)), "<H", _size_value(rnd, 16))
        desc = data.find(b"\x2c", 13)
        return _put(data, desc + rnd.choice((5, 7)), "<H", _size_value(rnd, 16)) if desc > 0 else data
    if fmt == "bmp":
        data = _put(data, 18, "<i", _size_value(rnd, 32, signed=True))
        return _put(data, 22, "<i", _size_value(rnd, 32, signed=True))
    if fmt == "webp":  # VP8 (14-bit sizes after the start code), VP8L (packed 14-bit), VP8X (24-bit canvas)
        chunk = data[12:16]
        if chunk == b"VP8 ":
            data = _put(data, 26, "<H", _size_value(rnd, 16))
            return _put(data, 28, "<H", _size_value(rnd, 16))
        if chunk == b"VP8L":
            return _put(data, 21, "<I", _size_value(rnd, 32))
        return _put(data, 24, "<I", _size_value(rnd, 32))
    return m_header_flip(data, rnd)


def m_palette(data: bytes, rnd: random.Random) -> bytes:
    fmt = _fmt(data)
    if fmt == "png":
        chunks = {k: body for _, k, body in png_chunks(data)}
        kind = rnd.choice([k for k in (b"PLTE", b"tRNS") if k in chunks] or [b"PLTE"])
        body = chunks.get(kind, b"")
        choice = rnd.randrange(4)
        if choice == 0:
            new = body[:rnd.randrange(0, len(body) + 1)]  # too few entries (or none)
        elif choice == 1:
            new = body + rnd.randbytes(rnd.choice((1, 2, 3, 300, 800)))  # too many or not a multiple of 3
        elif choice == 2:
            new = None  # removed
        else:
            new = rnd.randbytes(len(body))
        return png_replace(data, kind, new)
    if fmt == "gif":  # packed field of the logical screen: colour-table flag and size
        return _put(data, 10, "<B", rnd.randrange(256))
    if fmt == "bmp":  # colours used, important colours; bits per pixel
        return _put(data, rnd.choice((46, 50, 28)), "<I" if rnd.random() < 0.7 else "<H", _size_value(rnd, 16))
    return m_body_flip(data, rnd)


MUTATIONS = {"random_bytes": m_random_bytes, "truncate": m_truncate, "header_flip": m_header_flip,
             "chunk_length": m_chunk_length, "dimensions": m_dimensions, "palette": m_palette,
             "body_flip": m_body_flip}


def mutate(kind: str, base: str, seed: int) -> bytes:
    """The case (kind, base file name, seed) as bytes."""
    return MUTATIONS[kind](base_files()[base], random.Random(seed))


# -- checkpoints -------------------------------------------------------------------------------------------------
ODD_VALUES = (None, True, False, "", "x", "16", -1, 0, 1, 1.5, -0.0, float("nan"), float("inf"), 10**9, 2**63,
              [], {}, [0], [10**9], [1, 28], [1, 28, 28, 1], [-1, 28, 28], [1, 0, 28], ["a"], {"a": 1})
CONFIG_KINDS = ("wrong_type", "missing_key", "absurd_size", "unknown_key", "family")
WEIGHT_KINDS = ("truncate", "header_flip", "body_flip", "dtype", "shape", "nan", "offsets")


def mutate_config(payload: dict, kind: str, rnd: random.Random) -> dict:
    """A mutated copy of a checkpoint's config.json payload."""
    import copy

    out = copy.deepcopy(payload)
    config = out["config"]
    key = rnd.choice(sorted(config))
    if kind == "wrong_type":
        config[key] = rnd.choice(ODD_VALUES)
    elif kind == "missing_key":
        if rnd.random() < 0.3:
            del out[rnd.choice(("family", "config"))]
        else:
            del config[key]
    elif kind == "absurd_size":
        big = rnd.choice((10**6, 10**7, 10**9, 2**31, 2**40))
        ints = [k for k, v in config.items() if isinstance(v, int) and not isinstance(v, bool)]
        lists = [k for k, v in config.items() if isinstance(v, list) and v and isinstance(v[0], int)]
        key = rnd.choice(ints + lists + ["latent_dim"])
        if key in lists:
            value = list(config[key])
            value[rnd.randrange(len(value))] = big
            config[key] = value
        else:
            config[key] = big
    elif kind == "unknown_key":
        config[rnd.choice(("extra", "latentdim", "__class__"))] = rnd.choice(ODD_VALUES)
    else:
        out["family"] = rnd.choice((None, 3, "", "conv ", "MLP", "../mlp", "pu", "conv", ["mlp"]))
    return out


def mutate_weights(data: bytes, kind: str, rnd: random.Random) -> bytes:
    """A mutated safetensors file: cut, flipped, or with its JSON header rewritten."""
    import json

    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    names = sorted(k for k in header if k != "__metadata__")
    name = rnd.choice(names)
    if kind == "truncate":
        return data[:rnd.randrange(len(data))]
    if kind == "header_flip":
        out = bytearray(data)
        i = rnd.randrange(0, min(len(out), 8 + n))
        out[i] ^= 1 << rnd.randrange(8)
        return bytes(out)
    if kind == "body_flip":
        out = bytearray(data)
        for _ in range(rnd.randint(1, 16)):
            out[rnd.randrange(8 + n, len(out))] ^= 1 << rnd.randrange(8)
        return bytes(out)
    if kind == "nan":
        out = bytearray(body)
        start, end = header[name]["data_offsets"]
        i = start + 4 * rnd.randrange(max(1, (end - start) // 4))
        out[i:i + 4] = struct.pack("<f", rnd.choice((float("nan"), float("inf"), -float("inf"))))
        body = bytes(out)
    elif kind == "dtype":
        header[name]["dtype"] = rnd.choice(("F16", "BF16", "F64", "I64", "I32", "U8", "BOOL", "I8", "F8_E4M3", "XX"))
    elif kind == "shape":
        shape = header[name]["shape"]
        header[name]["shape"] = rnd.choice(([], [0], [10**12], [int(x) * 2 for x in shape], shape[::-1] + [1],
                                            [-1] + shape[1:]))
    else:  # offsets
        start, end = header[name]["data_offsets"]
        header[name]["data_offsets"] = rnd.choice(([end, start], [start, end + 4], [start, 10**12], [0, 0],
                                                   [start - 4, end - 4]))
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + body


# -- running one case --------------------------------------------------------------------------------------------
def check_upload(data: bytes) -> str:
    """Run one upload through the app's function (explorer.images.load_image, as ui/shared/widgets.py calls it) for a grey
    and an RGB model: "image", or the name of the check that refused it. Any other exception escapes."""
    from explorer.images import CHECKS, ImageInputError, load_image

    try:
        out = load_image(data, (1, 28, 28), background=0.0, invert=None)
        assert out.tensor.shape == (1, 28, 28) and float(out.tensor.min()) >= 0 and float(out.tensor.max()) <= 1
        load_image(data, (3, 16, 16), background=(1.0, 1.0, 1.0), invert=None)
        return "image"
    except ImageInputError as exc:
        assert exc.check in CHECKS and str(exc).lower().startswith(exc.check), str(exc)
        return exc.check


def make_tiny_checkpoint(folder) -> None:
    """A small native MLP checkpoint (8 x 8 grey images, latent 2) to mutate."""
    import torch

    from explorer.checkpoint import save_pretrained
    from explorer.models.registry import build_model

    torch.manual_seed(0)
    save_pretrained(build_model("mlp", input_shape=(1, 8, 8), latent_dim=2, hidden_sizes=(8,)), folder)


def check_checkpoint(folder) -> str:
    """Load a (mutated) checkpoint folder: "model", or "refused" when CheckpointError names a file of it and the
    problem. Any other exception escapes."""
    from pathlib import Path

    from explorer.checkpoint import CheckpointError, from_pretrained

    try:
        model = from_pretrained(folder)
        import torch

        with torch.no_grad():
            model.decode(torch.zeros(1, *model.latent_shape) if hasattr(model, "latent_shape") else torch.zeros(1, 2))
        return "model"
    except CheckpointError as exc:
        assert str(Path(folder)) in str(exc), f"the message names no file: {exc}"
        return "refused"


# -- ONNX graphs -------------------------------------------------------------------------------------------------
ONNX_KINDS = ("byte_flip", "truncate", "node", "attribute", "shape", "initializer")
ODD_INTS = (0, 1, -1, 2, 3, 7, 255, 65536, 10**9, 2**31 - 1, 2**62, -(2**62))
ODD_OPS = ("", "NoSuchOp", "Add", "Reshape", "Conv", "Gemm", "MatMul", "ConstantOfShape", "Loop", "If", "Scan",
           "Expand", "Tile", "Resize", "Split", "Concat", "Identity", "Cast", "TopK", "Einsum")


def _odd_dim(rnd: random.Random) -> int:
    return rnd.choice(ODD_INTS[:-1])


def _mutate_node(model, rnd: random.Random) -> None:
    nodes = model.graph.node
    node = nodes[rnd.randrange(len(nodes))]
    choice = rnd.randrange(7)
    if choice == 0:
        nodes.remove(node)
    elif choice == 1:
        node.op_type = rnd.choice(ODD_OPS)
    elif choice == 2 and node.input:
        node.input[rnd.randrange(len(node.input))] = rnd.choice(("", "nowhere", node.output[0] if node.output else "x"))
    elif choice == 3:
        nodes.append(type(node)())
        nodes[-1].CopyFrom(node)  # a second producer of the same outputs
    elif choice == 4:
        node.domain = rnd.choice(("com.evil", "ai.onnx.ml", "com.microsoft", "x" * 300))
    elif choice == 5:
        opset = model.opset_import[0]
        opset.version = rnd.choice((0, 1, 6, 12, 99, 10**6, -1))
    else:
        if node.input:
            node.input.append(rnd.choice(node.input))  # too many inputs
        else:
            node.output.append("extra")


def _mutate_attribute(model, rnd: random.Random) -> None:
    import onnx

    with_attrs = [n for n in model.graph.node if n.attribute]
    if not with_attrs:
        return _mutate_node(model, rnd)
    node = rnd.choice(with_attrs)
    attr = node.attribute[rnd.randrange(len(node.attribute))]
    choice = rnd.randrange(6)
    if choice == 0 and attr.type == onnx.AttributeProto.INT:
        attr.i = rnd.choice(ODD_INTS)
    elif choice == 1 and attr.type == onnx.AttributeProto.INTS:
        del attr.ints[:]
        attr.ints.extend(rnd.choice(([], [0, 0], [-5, -5, -5, -5], [10**6, 10**6], [1], [2**40] * 4,
                                     [rnd.randint(-3, 9) for _ in range(rnd.randint(1, 8))])))
    elif choice == 2 and attr.type == onnx.AttributeProto.FLOAT:
        attr.f = rnd.choice((float("nan"), float("inf"), -1e30, 0.0))
    elif choice == 3 and attr.type == onnx.AttributeProto.TENSOR:
        attr.t.dims[:] = [_odd_dim(rnd) for _ in range(rnd.randint(0, 3))]
    elif choice == 4:
        node.attribute.remove(attr)
    else:
        attr.type = rnd.choice([t for t in onnx.AttributeProto.AttributeType.values() if t != attr.type])


def _mutate_shape(model, rnd: random.Random) -> None:
    import onnx

    infos = [*model.graph.input, *model.graph.output, *model.graph.value_info]
    info = rnd.choice(infos)
    tensor = info.type.tensor_type
    choice = rnd.randrange(4)
    if choice == 0 and tensor.shape.dim:
        dim = tensor.shape.dim[rnd.randrange(len(tensor.shape.dim))]
        if rnd.random() < 0.7:
            dim.dim_value = _odd_dim(rnd)
        else:
            dim.dim_param = rnd.choice(("batch", "", "n" * 200))
    elif choice == 1:
        tensor.elem_type = rnd.choice((0, onnx.TensorProto.STRING, onnx.TensorProto.INT64, onnx.TensorProto.BOOL,
                                       onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16, 99))
    elif choice == 2:
        tensor.shape.dim.add().dim_value = _odd_dim(rnd)  # one rank more
    else:
        shapes = [t for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT64 and len(t.dims) == 1]
        if shapes:  # a Reshape / Expand target in the graph's constants
            target = rnd.choice(shapes)
            values = [rnd.choice(ODD_INTS[:-1]) for _ in range(max(1, target.dims[0]))]
            target.CopyFrom(onnx.numpy_helper.from_array(np.array(values, np.int64), target.name))
        else:
            tensor.ClearField("shape")


def _mutate_initializer(model, rnd: random.Random) -> None:
    import onnx

    if not model.graph.initializer:
        return _mutate_node(model, rnd)
    tensor = model.graph.initializer[rnd.randrange(len(model.graph.initializer))]
    choice = rnd.randrange(6)
    if choice == 0:
        tensor.dims[:] = rnd.choice(([], [0], [10**9], [d * 2 for d in tensor.dims], list(tensor.dims)[::-1] + [1],
                                     [2**31, 2**31]))
    elif choice == 1 and tensor.raw_data:
        tensor.raw_data = tensor.raw_data[:rnd.randrange(len(tensor.raw_data))]
    elif choice == 2:
        tensor.data_type = rnd.choice((0, onnx.TensorProto.STRING, onnx.TensorProto.INT8, onnx.TensorProto.DOUBLE,
                                       onnx.TensorProto.BFLOAT16, 17, 99))
    elif choice == 3 and tensor.data_type == onnx.TensorProto.FLOAT and tensor.dims and \
            len(tensor.raw_data) == 4 * int(np.prod(tensor.dims)):  # an earlier mutation may have cut or reshaped it
        values = onnx.numpy_helper.to_array(tensor).copy()
        values.flat[rnd.randrange(max(1, values.size))] = rnd.choice((np.nan, np.inf, -np.inf))
        tensor.CopyFrom(onnx.numpy_helper.from_array(values, tensor.name))
    elif choice == 4:
        model.graph.initializer.remove(tensor)
    else:  # external data pointing out of the folder: must never be read
        tensor.data_location = onnx.TensorProto.EXTERNAL
        del tensor.external_data[:]
        entry = tensor.external_data.add()
        entry.key, entry.value = "location", rnd.choice(("../../../etc/passwd", "/etc/shadow", "missing.bin"))
        tensor.ClearField("raw_data")


ONNX_MUTATIONS = {"node": _mutate_node, "attribute": _mutate_attribute, "shape": _mutate_shape,
                  "initializer": _mutate_initializer}


def mutate_onnx(data: bytes, kind: str, rnd: random.Random) -> bytes:
    """A mutated ONNX file: bytes flipped or cut, or a node / attribute / shape / initializer of its protobuf changed."""
    if kind == "byte_flip":
        out = bytearray(data)
        for _ in range(rnd.randint(1, 16)):
            out[rnd.randrange(len(out))] ^= 1 << rnd.randrange(8)
        return bytes(out)
    if kind == "truncate":
        return data[:rnd.randrange(len(data))]
    import onnx

    model = onnx.load_from_string(data)
    for _ in range(rnd.randint(1, 3)):
        ONNX_MUTATIONS[kind](model, rnd)
    return model.SerializeToString()


# -- diffusers configs -------------------------------------------------------------------------------------------
DIFFUSERS_KINDS = ("wrong_type", "missing_key", "absurd_size")
DIFFUSERS_SIZE_KEYS = ("in_channels", "out_channels", "latent_channels", "layers_per_block", "norm_num_groups",
                       "sample_size", "block_out_channels")


def mutate_diffusers_config(payload: dict, kind: str, rnd: random.Random) -> dict:
    """A mutated copy of an AutoencoderKL config.json (absurd_size: a size key set to 10^5 and up)."""
    import copy

    out = copy.deepcopy(payload)
    keys = sorted(k for k in out if k != "_class_name")
    if kind == "wrong_type":
        out[rnd.choice(keys)] = rnd.choice(ODD_VALUES)
    elif kind == "missing_key":
        for key in rnd.sample(keys, rnd.randint(1, 3)):
            del out[key]
    else:
        key = rnd.choice(DIFFUSERS_SIZE_KEYS)
        big = rnd.choice((10**5, 10**6, 10**9, 2**31, 2**40))
        if key == "block_out_channels":
            value = list(out[key])
            value[rnd.randrange(len(value))] = big
            out[key] = value if rnd.random() < 0.8 else value * rnd.choice((50, 1000))
        else:
            out[key] = big if rnd.random() < 0.8 else [big, big]
    return out
