"""Demo page of the spatial-live component with no model, for bench/big_vae_pages.py's linear-tier timing.

`streamlit run tests/browser/spatial_live_demo_app.py` with this checkout's assets (ui.components.devserver). The
code is seeded noise of SPATIAL_DEMO_SHAPE ("C,H,W", default "4,64,64": a 512 px SD latent) and the linear preview's
weights are seeded too; on release the "full decode" is that linear map upsampled 8x on the server, so that the
release path runs end to end without a decoder. SPATIAL_DEMO_STUDENT, when set, names a student decoder's ONNX file
(the page's decoder contract: the flat code in, an image in [0, 1] out), sent to the page as tier b.
"""

from __future__ import annotations

import base64
import os

import numpy as np
import streamlit as st

from ui.components import spatial_live

KEY = "demo_live"
shape = tuple(int(s) for s in os.environ.get("SPATIAL_DEMO_SHAPE", "4,64,64").split(","))
c, h, w = shape
rng = np.random.default_rng(0)
code = rng.standard_normal(shape).astype(np.float32)
weights, bias = rng.normal(0, 0.1, (c, 3)), np.full(3, 0.5)
directions = np.eye(c)[: min(c, 4)]
scales, labels = np.ones(len(directions)), [f"channel {i}" for i in range(len(directions))]
code_key = f"demo-{c}x{h}x{w}"
release = spatial_live.released_state(KEY, code_key, shape, len(labels))
full = None
if release is not None:
    move = (release.values * scales) @ directions
    region = np.ones((h, w)) if release.mask is None else release.mask
    moved = code + move[:, None, None] * region[None]
    rgb = np.clip(np.einsum("chw,co->ohw", moved, weights) + bias[:, None, None], 0, 1)
    full = spatial_live.image_payload(np.kron(rgb, np.ones((1, 8, 8))), release.nonce)
student_path = os.environ.get("SPATIAL_DEMO_STUDENT")
student_b64 = base64.b64encode(open(student_path, "rb").read()).decode() if student_path else None
st.title("spatial live demo")
spatial_live.spatial_live(KEY, code, code_key, weights, bias, directions, scales, labels, [(-3, 3)] * len(labels),
                          np.zeros(len(labels)) if release is None else release.values,
                          None if release is None else release.mask, full, display_size=512,
                          student_key="demo-student" if student_b64 else None, student_b64=student_b64)
