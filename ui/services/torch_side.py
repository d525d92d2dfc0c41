"""The torch side of the app: the explorer modules that code on the first paint needs once a model is used,
imported here at once. The first paint never imports this module; that code reaches it through
`ui.services.lazy.torch_side()` (one lazy import for the whole app), and ui.app.warmup imports it in the background
once the first page is out."""

from explorer import checkpoint, data, latent, losses
from explorer.analysis import encode_dataset, evaluation, scoring, store
from explorer.data import base as data_base
from explorer.models import foreign, registry
from explorer.models.blocks import conditioning
from explorer.onnx import export as onnx_export
from explorer.runtime import budget, calls, memory, progress

__all__ = ['budget', 'calls', 'checkpoint', 'conditioning', 'data', 'data_base', 'encode_dataset', 'evaluation', 'foreign', 'latent', 'losses', 'memory', 'onnx_export', 'progress', 'registry', 'scoring', 'store']
