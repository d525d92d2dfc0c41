"""The ATen -> ONNX table is built once per process and each export gets its own copy."""

from torch.onnx._internal.exporter import _registration

from explorer.onnx.torchlib_registry import reuse_torchlib_registry


def test_each_call_gets_an_equal_table_that_it_may_change_alone():
    assert reuse_torchlib_registry() and reuse_torchlib_registry()  # installing twice is harmless
    first = _registration.ONNXRegistry.from_torchlib(opset_version=18)
    second = _registration.ONNXRegistry().from_torchlib(opset_version=18)  # torch.onnx calls it on an instance
    assert first is not second and first.opset_version == second.opset_version == 18
    assert first.functions.keys() == second.functions.keys() and len(first.functions) > 100
    op = next(iter(first.functions))
    assert first.functions[op] == second.functions[op] and first.functions[op] is not second.functions[op]
    first.functions[op].append("added by one export")
    first.functions["only in one"] = []
    assert "added by one export" not in second.functions[op] and "only in one" not in second.functions
    assert "only in one" not in _registration.ONNXRegistry.from_torchlib(opset_version=18).functions
