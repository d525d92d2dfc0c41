"""Why a VQ-VAE's ONNX index encoder could pick another code than torch in a few cells, and why the model's own
nearest-code search (in evaluation) computes its distances in float64.

    python references/vq_near_ties.py [pretrained/vq-shapes] [--items 3000]

Renders `shapes` items (seed 1, as bench/bench_codebook.py), and takes each cell's pre-quantisation code z_e
(B, D, h, w) twice: from torch, and from onnxruntime running the same encoder exported to ONNX. Then it picks each
cell's nearest code in several ways and counts the cells where two choices differ:
  - the model: its indices (`encode_indices`: in evaluation the nearest code in float64, explorer.models.vqvae
    .nearest_codes), against the ONNX index encoder's (onnxruntime), and against vector-quantize-pytorch's own
    float32 search (which training uses);
  - "library formula": the library's float32 distance in the library's order (||z||^2 + ||e||^2 + (-2 z.e), clamped,
    square root; argmin) computed in torch on torch's z_e and on onnxruntime's z_e;
  - "float64": ||z||^2 - 2 z.e + ||e||^2 in float64 on both z_e.
Prints one line per way; the figures are in references/README.md and docs/discrete.md.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn


class _PreQuantised(nn.Module):
    """Images (B, C, H, W) -> the code before quantisation z_e (B, D, h, w)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model.to_code(self.model.encoder(x))


def nearest(z: Tensor, codebook: Tensor, how: str) -> np.ndarray:
    """Each cell's nearest code (B, h, w) for z (B, D, h, w) and a codebook (K, D), the distance computed `how`."""
    f = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])  # (B*h*w, D)
    if how == "float64":
        f, e = f.double(), codebook.double()
        d = (f * f).sum(1, keepdim=True) - 2 * f @ e.T + (e * e).sum(1)[None]
    elif how == "library formula":  # vector_quantize_pytorch.cdist, then argmax of -d
        e = codebook
        d = ((f * f).sum(1)[:, None] + (e * e).sum(1)[None] + torch.einsum("id,jd->ij", f, e) * -2).clamp(min=1e-8).sqrt()
    else:
        raise ValueError(how)
    return d.argmin(1).reshape(z.shape[0], *z.shape[2:]).numpy()


def main() -> None:
    import onnxruntime as ort

    from explorer.checkpoint import from_pretrained
    from explorer.data.shapes import draw_shape_parameters, render_shapes
    from explorer.onnx.discrete import export_discrete_pair

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", nargs="?", default="pretrained/vq-shapes")
    ap.add_argument("--items", type=int, default=3000)
    a = ap.parse_args()
    torch.set_num_threads(1)
    model = from_pretrained(a.checkpoint).eval()
    x = torch.from_numpy(render_shapes(draw_shape_parameters(a.items, 1), slice(0, a.items))).float().div_(255.0)
    codebook = model.codebook(0)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    with tempfile.TemporaryDirectory() as tmp, torch.inference_mode():
        library = model.encode_indices(x)[0].numpy()  # the model's (float64 distances)
        z_torch = _PreQuantised(model)(x)
        own = model.vq(z_torch)[1].numpy()  # vector-quantize-pytorch's float32 search
        torch.onnx.export(_PreQuantised(model), (x[:2],), f"{tmp}/z.onnx", input_names=["x"], output_names=["z"],
                          dynamo=False, dynamic_axes={"x": {0: "b"}, "z": {0: "b"}}, opset_version=18)
        z_ort = torch.from_numpy(ort.InferenceSession(f"{tmp}/z.onnx", options).run(None, {"x": x.numpy()})[0])
        encoder = ort.InferenceSession(str(Path(export_discrete_pair(model, f"{tmp}/pair")) / "encoder.onnx"), options)
        onnx = np.concatenate([encoder.run(None, {"image": x[i:i + 500].numpy()})[0] for i in range(0, a.items, 500)])
    print(f"{library.size} cells of {a.items} items; z_e: max |torch - onnxruntime| "
          f"{float((z_torch - z_ort).abs().max()):.2e}")
    print(f"model (torch) vs ONNX index encoder (onnxruntime): {int((library != onnx).sum())} cells differ")
    print(f"vector-quantize-pytorch's own float32 search vs the model: {int((own != library).sum())} cells differ")
    for how in ("library formula", "float64"):
        t, o = nearest(z_torch, codebook, how), nearest(z_ort, codebook, how)
        print(f"{how}: torch's z_e vs onnxruntime's z_e {int((t != o).sum())} differ; on torch's z_e vs the model "
              f"{int((t != library).sum())}; on onnxruntime's z_e vs the ONNX encoder {int((o != onnx).sum())}")


if __name__ == "__main__":
    main()
