import json
import pickle

import pytest
import torch

from explorer.checkpoint import CheckpointError, from_pretrained, read_config, resolve_device, save_pretrained
from explorer.models import build_model


def make(tmp_path, **kw):
    model = build_model("mlp", input_shape=(1, 8, 8), latent_dim=3, hidden_sizes=(16,), **kw)
    save_pretrained(model, tmp_path / "ckpt", {"dataset": {"name": "tiny"}})
    return model, tmp_path / "ckpt"


def test_folder_contents_and_config(tmp_path):
    _, folder = make(tmp_path)
    assert {p.name for p in folder.iterdir()} == {"config.json", "model.safetensors"}
    cfg = read_config(folder)
    assert cfg["family"] == "mlp" and cfg["config"]["latent_dim"] == 3 and cfg["dataset"]["name"] == "tiny"


def test_load_with_map_location(tmp_path):
    _, folder = make(tmp_path)
    model = from_pretrained(folder, device="cpu")
    assert model.device.type == "cpu"
    assert from_pretrained(folder, device="auto").device.type in {"cpu", "cuda", "mps"}


def test_not_a_folder(tmp_path):
    with pytest.raises(CheckpointError, match="is not a folder"):
        from_pretrained(tmp_path / "missing")
    with pytest.raises(CheckpointError, match="config.json is missing"):
        from_pretrained(tmp_path)


def test_config_weights_disagree(tmp_path):
    _, folder = make(tmp_path)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["config"]["latent_dim"] = 5
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="disagree.*config expects shape"):
        from_pretrained(folder)


def test_pickle_named_safetensors_is_refused(tmp_path):
    model, folder = make(tmp_path)
    with open(folder / "model.safetensors", "wb") as fh:
        pickle.dump(model.state_dict(), fh)
    with pytest.raises(CheckpointError, match="not a valid safetensors file.*never loaded"):
        from_pretrained(folder)


def test_torch_save_named_safetensors_is_refused(tmp_path):
    model, folder = make(tmp_path)
    torch.save(model.state_dict(), folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="not a valid safetensors file"):
        from_pretrained(folder)


def test_bad_json_and_unknown_family(tmp_path):
    _, folder = make(tmp_path)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        from_pretrained(folder)
    (folder / "config.json").write_text(json.dumps({"family": "gan", "config": {}}))
    with pytest.raises(CheckpointError, match="unknown model family"):
        from_pretrained(folder)
    (folder / "config.json").write_text(json.dumps({"family": "mlp", "config": {"latent_dim": 3, "wings": 2}}))
    with pytest.raises(CheckpointError, match="invalid config"):
        from_pretrained(folder)


def test_unavailable_device_is_explained():
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda")
    assert resolve_device("cpu").type == "cpu"
