"""The torch side of the app: every explorer function that code on the first paint needs once a model is used,
imported here at once. The first paint never imports this module; that code reaches it through
`ui.services.lazy.torch_side()` (one lazy import for the whole app), and ui.app.warmup imports it in the background
once the first page is out."""

from explorer.analysis.encode_dataset import attribute_table
from explorer.analysis.evaluation import evaluate, percentile_of
from explorer.analysis.scoring import score_image
from explorer.analysis.store import find_evaluations, load_analysis, load_evaluation
from explorer.checkpoint import available_devices, from_pretrained
from explorer.data import load_dataset
from explorer.data.base import TensorImageDataset, stack_images
from explorer.latent import decode, encode_means, prior_draw, style_class_grid
from explorer.losses import bits_per_dim
from explorer.models.blocks.conditioning import with_default_condition
from explorer.models.foreign import describe_model_path, detect_format
from explorer.models.registry import family_capabilities, get_model_class
from explorer.onnx.export import exported_decoder, exported_encoder

__all__ = ['TensorImageDataset', 'attribute_table', 'available_devices', 'bits_per_dim', 'decode', 'describe_model_path', 'detect_format', 'encode_means', 'evaluate', 'exported_decoder', 'exported_encoder', 'family_capabilities', 'find_evaluations', 'from_pretrained', 'get_model_class', 'load_analysis', 'load_dataset', 'load_evaluation', 'percentile_of', 'prior_draw', 'score_image', 'stack_images', 'style_class_grid', 'with_default_condition']
