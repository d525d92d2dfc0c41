"""A model's own ONNX graph in the page's form, without a re-export through torch.

A model that already runs a part as ONNX (an ONNX pair: `VAE.native_onnx(part)`) gives the page that graph as it
is, with a few standard operators around it so that it speaks the page's contract (explorer.onnx.export):

- decoder: flat codes `code` (B, D) -> Reshape to the graph's own input shape -> the graph -> Reshape to (B, C, H, W)
  -> the likelihood's display mean: Sigmoid for Bernoulli logits, or the value range mapped to [0, 1] and clipped
  for a Gaussian's mean -> `image`;
- indices (a discrete pair's decoder, which takes integer grids): flat indices `indices` (B, N) int64 -> Reshape to
  the graph's own grid (and Cast to its integer type) -> the graph -> as the decoder from there on;
- encoder: `image` (B, C, H, W) in [0, 1] -> mapped to the graph's value range -> the graph -> its first output (the
  posterior mean) flattened -> `code` (B, D) (and its second, the log-variance, flattened -> `logvar`).

The graph's own nodes and weights are copied unchanged; its input and outputs are renamed so that no name of the
wrapper collides with one of the graph's. Only float32 graphs (integer input for indices) with a dynamic batch
axis are wrapped; anything else
raises ValueError with the reason, and the caller falls back to exporting through torch.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

WRAP_PREFIX = "__explorer_wrap_"


def _rename(graph, old: str, new: str) -> None:
    """Every use of the value `old` in the graph's nodes (inputs and outputs) becomes `new`."""
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new
        for i, name in enumerate(node.output):
            if name == old:
                node.output[i] = new


def _float_tensor(name: str, dims: list[int | str]):
    from onnx import TensorProto, helper

    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def _graph_inputs(graph) -> list:
    """The graph's real inputs: older files also list their initializers as inputs."""
    weights = {t.name for t in graph.initializer}
    return [i for i in graph.input if i.name not in weights]


INTEGER_TYPES = (6, 7, 12, 13)  # TensorProto INT32, INT64, UINT32, UINT64: what a discrete decoder may take


def _check_float_dynamic(value_info, role: str, integer: bool = False) -> None:
    from onnx import TensorProto

    kind = value_info.type.tensor_type.elem_type
    if integer and kind not in INTEGER_TYPES:
        raise ValueError(f"its {role} {value_info.name!r} is not integer code indices (ONNX type {kind})")
    if not integer and kind != TensorProto.FLOAT:
        raise ValueError(f"its {role} {value_info.name!r} is not float32 (ONNX type {kind})")
    dims = value_info.type.tensor_type.shape.dim
    if dims and dims[0].HasField("dim_value") and dims[0].dim_value != 0:
        raise ValueError(f"its {role} {value_info.name!r} has a fixed batch of {dims[0].dim_value}")


def wrap_for_page(source: str | Path, destination: str | Path, part: str, *, latent_shape: tuple[int, ...],
                  graph_input_shape: tuple[int, ...], image_shape: tuple[int, int, int], likelihood: str,
                  value_range: tuple[float, float], with_logvar: bool = False) -> None:
    """Write `source` (the model's own decoder or encoder ONNX file) wrapped to the page's contract into
    `destination`. graph_input_shape: the per-item input shape the graph itself takes; latent_shape: the code's;
    image_shape: (C, H, W); likelihood "bernoulli" (the decoder gives logits) or "gaussian" (an image in
    value_range). ValueError when the graph cannot be wrapped (non-float32 or a fixed batch)."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    inputs = _graph_inputs(graph)
    if len(inputs) != 1:
        raise ValueError(f"it takes {len(inputs)} inputs, not one")
    _check_float_dynamic(inputs[0], "input", integer=part == "indices")
    inner_type = inputs[0].type.tensor_type.elem_type
    wanted_outputs = 1 if part in ("decoder", "indices") else (2 if with_logvar else 1)
    if len(graph.output) < wanted_outputs:
        raise ValueError(f"it gives {len(graph.output)} outputs, {wanted_outputs} needed")
    for out in graph.output[:wanted_outputs]:
        _check_float_dynamic(out, "output")
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < 8:
        raise ValueError(f"its opset {opset} is older than 8")

    # rename the graph's own input and outputs so that the wrapper's names cannot collide with them
    inner_in = f"{WRAP_PREFIX}in"
    _rename(graph, inputs[0].name, inner_in)
    inner_outs = [f"{WRAP_PREFIX}out{i}" for i in range(wanted_outputs)]
    for out, new in zip(graph.output[:wanted_outputs], inner_outs):
        _rename(graph, out.name, new)

    nodes, weights = [], []

    def const(name: str, values: np.ndarray) -> str:
        weights.append(numpy_helper.from_array(values, f"{WRAP_PREFIX}{name}"))
        return f"{WRAP_PREFIX}{name}"

    low, high = (float(v) for v in value_range)
    if part in ("decoder", "indices"):
        in_shape = const("in_shape", np.array([-1, *graph_input_shape], np.int64))
        if part == "decoder":
            new_inputs = [_float_tensor("code", ["batch", math.prod(latent_shape)])]
            nodes.append(helper.make_node("Reshape", ["code", in_shape], [inner_in]))
        else:  # (B, N) int64 -> (B, h, w) in the graph's own integer type
            new_inputs = [helper.make_tensor_value_info("indices", onnx.TensorProto.INT64,
                                                        ["batch", math.prod(graph_input_shape)])]
            nodes += [helper.make_node("Reshape", ["indices", in_shape], [f"{WRAP_PREFIX}grid"]),
                      helper.make_node("Cast", [f"{WRAP_PREFIX}grid"], [inner_in], to=inner_type)]
        nodes_after = [helper.make_node("Reshape", [inner_outs[0], const("image_shape", np.array([-1, *image_shape], np.int64))],
                                        [f"{WRAP_PREFIX}chw"])]
        if likelihood == "bernoulli":
            nodes_after.append(helper.make_node("Sigmoid", [f"{WRAP_PREFIX}chw"], ["image"]))
        else:  # (y - low) / (high - low), clipped to [0, 1] as the likelihood's displayed mean is
            nodes_after += [
                helper.make_node("Sub", [f"{WRAP_PREFIX}chw", const("low", np.array(low, np.float32))], [f"{WRAP_PREFIX}shifted"]),
                helper.make_node("Div", [f"{WRAP_PREFIX}shifted", const("span", np.array(high - low, np.float32))],
                                 [f"{WRAP_PREFIX}unit"]),
                helper.make_node("Max", [f"{WRAP_PREFIX}unit", const("zero", np.array(0.0, np.float32))], [f"{WRAP_PREFIX}floor"]),
                helper.make_node("Min", [f"{WRAP_PREFIX}floor", const("one", np.array(1.0, np.float32))], ["image"]),
            ]
        new_outputs = [_float_tensor("image", ["batch", *image_shape])]
    elif part == "encoder":
        new_inputs = [_float_tensor("image", ["batch", *image_shape])]
        if (low, high) == (0.0, 1.0):
            nodes.append(helper.make_node("Identity", ["image"], [inner_in]))
        else:  # x * (high - low) + low: the graph's own value range
            nodes += [helper.make_node("Mul", ["image", const("span", np.array(high - low, np.float32))], [f"{WRAP_PREFIX}scaled"]),
                      helper.make_node("Add", [f"{WRAP_PREFIX}scaled", const("low", np.array(low, np.float32))], [inner_in])]
        names = ["code", "logvar"][:wanted_outputs]
        nodes_after = [helper.make_node("Flatten", [inner], [name], axis=1) for inner, name in zip(inner_outs, names)]
        new_outputs = [_float_tensor(name, ["batch", math.prod(latent_shape)]) for name in names]
    else:
        raise ValueError(f"part must be 'decoder', 'indices' or 'encoder', got {part!r}")

    body = list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes + body + nodes_after)
    graph.initializer.extend(weights)
    listed_weights = [i for i in graph.input if i.name in {t.name for t in graph.initializer}]  # older IR lists them
    del graph.input[:]
    graph.input.extend(new_inputs + listed_weights)
    del graph.output[:]
    graph.output.extend(new_outputs)
    del graph.value_info[:]  # the graph's own shape annotations named the renamed values; onnx infers them again
    onnx.save(model, str(destination))


__all__ = ["WRAP_PREFIX", "wrap_for_page"]
