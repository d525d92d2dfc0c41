"""Shared fixtures for the library tests."""

from __future__ import annotations

import pytest
import torch

from explorer.data.base import DataSplit
from tinydata import make_split


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


@pytest.fixture
def tiny_split() -> DataSplit:
    return make_split()
