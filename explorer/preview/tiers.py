"""Which preview tiers a model has beyond the linear one: the hook for tier b, the distilled student decoder.

`vae-distill` saves a teacher's student beside it as `<teacher folder>-student/` (e.g. pretrained/kl-f4-photos
-> pretrained/kl-f4-photos-student/): a diffusers AutoencoderTiny folder plus its decoder exported to ONNX.
`student_onnx_path` finds that ONNX decoder for a model folder, so the pages can hand it to the in-page Web Worker.
Its contract is the page's decoder contract (explorer.onnx.export): the flat code (B, C*H*W) in, images (B, 3, H', W')
in [0, 1] out.
"""

from __future__ import annotations

from pathlib import Path

STUDENT_SUFFIX = "-student"
DECODER_NAMES = ("decoder.onnx", "student_decoder.onnx")  # looked for first, in this order


def student_folder(model_folder: str | Path) -> Path:
    """Where the student of the model in `model_folder` lives: the sibling folder `<name>-student`."""
    folder = Path(model_folder)
    return folder.with_name(folder.name + STUDENT_SUFFIX)


def student_onnx_path(model_folder: str | Path | None) -> Path | None:
    """The student decoder's ONNX file for the model saved in `model_folder`, or None where it has none (no
    student folder, or no ONNX decoder in it: a named one from DECODER_NAMES, else the only *.onnx whose name
    holds "decoder")."""
    if model_folder is None:
        return None
    folder = student_folder(model_folder)
    if not folder.is_dir():
        return None
    for name in DECODER_NAMES:
        if (folder / name).is_file():
            return folder / name
    found = sorted(p for p in folder.rglob("*.onnx") if "decoder" in p.name.lower() and p.is_file())
    return found[0] if len(found) == 1 else None
