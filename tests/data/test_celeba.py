"""CelebA through torchvision's class, on tiny files in CelebA's real layout (torchvision's MD5 check of the
list files is skipped: the files are ours), and a data root with only some of the files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.data import load_dataset
from explorer.data.folders import DatasetNotFoundError

NAMES = ["5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs", "Big_Lips",
         "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby", "Double_Chin",
         "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open",
         "Mustache", "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline",
         "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat",
         "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young"]
PARTITION = [0, 0, 0, 0, 1, 2, 2, 0]  # 5 train, 1 valid, 2 test


def write_celeba(root: Path, with_lists: bool = True, partition: list[int] = PARTITION,
                 attrs: np.ndarray | None = None) -> np.ndarray:
    """Tiny files in CelebA's layout under root/celeba: one image per entry of `partition` (0 train, 1 valid,
    2 test) and the attribute table `attrs` (N, 40) of -1/1 (random when None); returns the table."""
    folder = root / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [f"{i + 1:06d}.jpg" for i in range(len(partition))]
    for name in names:  # 178 x 218 like the real aligned crops, but most files are smaller: any size works
        Image.fromarray(rng.integers(0, 256, (44, 36, 3), dtype=np.uint8)).save(folder / "img_align_celeba" / name)
    random_attrs = rng.choice([-1, 1], size=(len(names), 40))
    attrs = random_attrs if attrs is None else np.asarray(attrs)
    if not with_lists:
        return attrs
    n = len(names)
    (folder / "list_eval_partition.txt").write_text("".join(f"{f} {p}\n" for f, p in zip(names, partition)))
    (folder / "identity_CelebA.txt").write_text("".join(f"{f} {i % 3 + 1}\n" for i, f in enumerate(names)))
    (folder / "list_bbox_celeba.txt").write_text(
        f"{n}\nimage_id x_1 y_1 width height\n" + "".join(f"{f} 95 71 226 313\n" for f in names))
    (folder / "list_landmarks_align_celeba.txt").write_text(
        f"{n}\nlefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y\n"
        + "".join(f"{f} 69 109 106 113 77 142 73 152 108 154\n" for f in names))
    (folder / "list_attr_celeba.txt").write_text(
        f"{n}\n" + " ".join(NAMES) + " \n" + "".join(f + " " + " ".join(f"{v:2d}" for v in row) + "\n"
                                                     for f, row in zip(names, attrs)))
    return attrs


def test_celeba_reads_the_real_layout_with_attributes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets as tvd

    monkeypatch.setattr(tvd.celeba, "check_integrity", lambda *args, **kwargs: True)
    attrs = write_celeba(tmp_path)
    data = load_dataset("celeba", root=str(tmp_path))
    assert (data.name, data.image_shape, data.likelihood, data.classes) == ("celeba", (3, 64, 64), "gaussian", None)
    assert len(data.train) == 5 and len(data.test) == 2
    image, label = data.test[0]
    assert image.shape == (3, 64, 64) and image.dtype == torch.float32 and 0 <= image.min() and image.max() <= 1
    assert label == -1
    assert data.train.attribute_names == NAMES and data.extras["attribute_names"] == NAMES
    test_rows = np.flatnonzero(np.array(PARTITION) == 2)
    np.testing.assert_array_equal(data.test.attributes.numpy(), (attrs[test_rows] + 1) // 2)
    # the data set's own folder works as root, and image_size resizes
    assert load_dataset("celeba", root=str(tmp_path / "celeba"), image_size=32).train[0][0].shape == (3, 32, 32)


def test_encoding_celeba_stores_its_attributes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets as tvd

    from explorer.analysis.encode_dataset import encode_dataset
    from explorer.models.registry import build_model

    monkeypatch.setattr(tvd.celeba, "check_integrity", lambda *args, **kwargs: True)
    attrs = write_celeba(tmp_path)
    data = load_dataset("celeba", root=str(tmp_path), image_size=16)
    model = build_model("mlp", input_shape=(3, 16, 16), latent_dim=2, hidden_sizes=(8,), likelihood="gaussian")
    out = encode_dataset(model, data.train, tmp_path / "enc", batch_size=2, shard_size=3, show_progress=False)
    assert out.attribute_names == NAMES and out.attributes.shape == (5, 40)
    np.testing.assert_array_equal(out.attributes, (attrs[np.array(PARTITION) == 0] + 1) // 2)


def test_half_of_celeba_names_what_is_missing(tmp_path: Path) -> None:
    write_celeba(tmp_path, with_lists=False)
    (tmp_path / "celeba" / "list_attr_celeba.txt").write_text("1\n")
    (tmp_path / "celeba" / "identity_CelebA.txt").write_text("")
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("celeba", root=str(tmp_path))
    message = str(info.value)
    for name in ("list_eval_partition.txt", "list_bbox_celeba.txt", "list_landmarks_align_celeba.txt"):
        assert name in message.split("missing:")[1]
    assert "list_attr_celeba.txt" not in message.split("missing:")[1]


def test_celeba_without_a_root_says_so() -> None:
    with pytest.raises(DatasetNotFoundError, match="needs a data folder"):
        load_dataset("celeba")
