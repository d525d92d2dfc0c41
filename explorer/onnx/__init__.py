"""ONNX: exporting a model's decoder and encoder with a digest-keyed cache (export.py), and vetting ONNX files from
elsewhere before they are opened (trust.py)."""
