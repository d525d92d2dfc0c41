"""The only code that owns threads, subprocesses and HTTP routes: the inference thread, map and encode jobs and
their workers, the item-image route, and the ONNX decoder service."""
