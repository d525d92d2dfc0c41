"""Captioned images from a local folder: Flickr8k-style CSV and COCO-style JSON, with plain errors."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.data import load_dataset
from explorer.data.captions import LOADERS, read_captions_csv

CAPTIONS = {
    "a.jpg": ["A dog runs on grass.", "a brown dog, running"],
    "b.jpg": ["Two children play."],
    "c.png": ["A red car", "a car on a road", "red car parked"],
    "d.jpg": ["A cat sleeps"],
}


def write_images(folder, size=(40, 30)):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in CAPTIONS:
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(folder / name)


@pytest.fixture
def csv_root(tmp_path):
    write_images(tmp_path / "Images")
    lines = ["image,caption"] + [f"{img},{cap}" if "," not in cap else f'{img},"{cap}"' for img, caps in CAPTIONS.items() for cap in caps]
    lines.append("a.jpg,a dog, a ball, a field")  # an unquoted comma, as in Flickr8k's captions.txt
    (tmp_path / "captions.txt").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_csv_loader_reads_images_and_every_caption(csv_root):
    data = load_dataset("captions-csv", root=str(csv_root), image_size=16, test_fraction=0.25)
    assert data.image_shape == (3, 16, 16) and data.likelihood == "gaussian" and data.classes is None
    assert len(data.train) + len(data.test) == 4 and len(data.test) == 1
    pairs = read_captions_csv(csv_root / "captions.txt")
    assert pairs["a.jpg"][-1] == "a dog, a ball, a field" and pairs["a.jpg"][1] == "a brown dog, running"
    every = [data.train.references(i) for i in range(len(data.train))] + [data.test.references(0)]
    assert sorted(map(len, every)) == [1, 1, 3, 3]
    image, label, caps = data.train[0]
    assert image.shape == (3, 16, 16) and 0 <= float(image.min()) and float(image.max()) <= 1 and label == -1
    assert caps.shape[0] == len(data.train.references(0))
    batch = data.collate_fn([data.train[i] for i in range(len(data.train))])
    assert batch[2].shape[0] == 3 and batch[3].tolist() == [len(data.train.references(i)) for i in range(3)]
    vocab = data.extras["vocab"]
    train_words = {w for i in range(3) for c in data.train.references(i) for w in c.lower().replace(",", " ").replace(".", " ").split()}
    assert set(vocab.words[3:]) == train_words  # vocabulary from the training captions only


def test_coco_loader(tmp_path):
    write_images(tmp_path / "images")
    ids = {name: i + 10 for i, name in enumerate(CAPTIONS)}
    payload = {"images": [{"id": i, "file_name": n} for n, i in ids.items()],
               "annotations": [{"id": k, "image_id": ids[n], "caption": c}
                               for k, (n, c) in enumerate((n, c) for n, caps in CAPTIONS.items() for c in caps)]}
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "captions_train2017.json").write_text(json.dumps(payload))
    data = LOADERS["captions-coco"](root=str(tmp_path), images_dir="images", image_size=8, test_fraction=0.25, seed=1)
    assert data.image_shape == (3, 8, 8) and len(data.train) == 3
    refs = sorted(c for ds in (data.train, data.test) for i in range(len(ds)) for c in ds.references(i))
    assert refs == sorted(c for caps in CAPTIONS.values() for c in caps)
    assert isinstance(data.train.images, torch.Tensor)


def test_missing_things_give_plain_errors(tmp_path):
    with pytest.raises(ValueError, match="needs root"):
        load_dataset("captions-csv")
    with pytest.raises(ValueError, match="cannot download"):
        load_dataset("captions-csv", root=str(tmp_path), download=True)
    with pytest.raises(FileNotFoundError, match="captions.txt not found"):
        load_dataset("captions-csv", root=str(tmp_path))
    (tmp_path / "captions.txt").write_text("file,text\nx.jpg,hello\n")
    with pytest.raises(ValueError, match="'image' and 'caption'"):
        load_dataset("captions-csv", root=str(tmp_path))
    (tmp_path / "captions.txt").write_text("image,caption\nx.jpg,hello\ny.jpg,bye\n")
    with pytest.raises(FileNotFoundError, match="image file x.jpg not found"):
        load_dataset("captions-csv", root=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="COCO captions JSON not found"):
        load_dataset("captions-coco", root=str(tmp_path))
    (tmp_path / "captions.json").write_text(json.dumps({"images": [{"id": 1}]}))
    with pytest.raises(ValueError, match="not a COCO captions file"):
        load_dataset("captions-coco", root=str(tmp_path))
