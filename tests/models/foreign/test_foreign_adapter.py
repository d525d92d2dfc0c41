"""A trusted adapter file loads and matches its own torch class; untrusted, it never runs."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from explorer.models.foreign import ForeignModelError, load_foreign
from explorer.models.foreign.adapter import AdapterVAE


def example_module(path):
    spec = importlib.util.spec_from_file_location("example_adapter_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_loads_with_trust_and_matches_its_class(adapter_file):
    model = load_foreign(adapter_file, trusted_code=[adapter_file])
    assert isinstance(model, AdapterVAE) and model.latent_shape == (8,) and model.config.input_shape == (1, 28, 28)
    assert not model.capabilities().trainable and model.device.type == "cpu"
    net = example_module(adapter_file).build()
    x = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        mean, logvar = net.encode(x)
        posterior = model.encode(x)
        torch.testing.assert_close(posterior.mean, mean, rtol=0, atol=0)
        torch.testing.assert_close(posterior.logvar, logvar, rtol=0, atol=0)
        torch.testing.assert_close(model.decode(mean).logits, net.decode(mean), rtol=0, atol=0)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in net.parameters())


def test_untrusted_file_never_runs(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.py"
    path.write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    with pytest.raises(ForeignModelError, match=r"pass `--trust-code .*evil.py` on the command line"):
        load_foreign(path)
    with pytest.raises(ForeignModelError, match="--trust-code"):
        load_foreign(path, trusted_code=[tmp_path / "other.py"])
    assert not marker.exists()


def test_bad_adapters_are_named(tmp_path):
    path = tmp_path / "none.py"
    path.write_text("x = 1\n")
    with pytest.raises(ForeignModelError, match=r"does not define load_vae\(device\)"):
        load_foreign(path, trusted_code=[path])
    path.write_text("def load_vae(device):\n    return {'encode': None, 'wings': 2}\n")
    with pytest.raises(ForeignModelError, match=r"unknown key\(s\) \['wings'\]"):
        load_foreign(path, trusted_code=[path])
    path.write_text("def load_vae(device):\n    raise RuntimeError('no weights here')\n")
    with pytest.raises(ForeignModelError, match="raised RuntimeError: no weights here"):
        load_foreign(path, trusted_code=[path])


def test_dict_spec_gaussian_in_minus_one_one(tmp_path):
    path = tmp_path / "dict_adapter.py"
    path.write_text(
        "import torch\n"
        "def load_vae(device):\n"
        "    return {'encode': lambda x: (x.flatten(1)[:, :2], torch.zeros(x.shape[0], 2)),\n"
        "            'decode': lambda z: z.sum(1).view(-1, 1, 1, 1).expand(-1, 1, 2, 2),\n"
        "            'input_shape': (1, 2, 2), 'latent_shape': (2,), 'likelihood': 'gaussian',\n"
        "            'value_range': (-1.0, 1.0), 'sigma': 0.05}\n")
    model = load_foreign(path, trusted_code=[str(path)])
    x = torch.tensor([[[[0.0, 1.0], [0.5, 0.25]]]])
    torch.testing.assert_close(model.encode(x).mean, torch.tensor([[-1.0, 1.0]]))
    torch.testing.assert_close(model.decode(torch.tensor([[0.5, -0.5]])).mean, torch.full((1, 1, 2, 2), 0.5))
    assert "sigma = 0.05" in model.likelihood_description()
