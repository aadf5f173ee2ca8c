"""Shared fixtures: tiny model directories, an upstream-format checkpoint made by ModelScope's own
ConvNextViT, real crops from ../shared, and a fence that refuses any non-loopback connection."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest
import torch

from .support import write_upstream_dir


os.environ.setdefault("MODELSCOPE_CACHE", str(Path(os.environ.get("TMPDIR", "/tmp")) / "plate-ocr-test-modelscope"))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: full-size model, training runs or subprocesses (run in CI)")


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Tests never reach beyond this machine: connecting anywhere but loopback fails loudly."""
    real_connect = socket.socket.connect

    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else None
        if host is not None:
            try:
                ok = ipaddress.ip_address(host).is_loopback
            except ValueError:
                ok = host == "localhost"
            if not ok:
                raise ConnectionRefusedError(f"test fence: connection to {address!r} refused (loopback only)")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)




@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A randomly initialised model directory of the ``convnext-vit-test`` preset."""
    from plate_ocr.geometry import COMPACT_GEOMETRY
    from plate_ocr.model_dir import save_model_dir
    from plate_ocr.network import PRESETS, NetworkConfig, PlateRecognizer
    from plate_ocr.training.train import PLATE_CHARS
    from plate_ocr.vocab import CTCVocab

    vocab = CTCVocab.from_chars(PLATE_CHARS)
    torch.manual_seed(0)
    config = NetworkConfig(**{**PRESETS["convnext-vit-test"].to_dict(), "num_classes": vocab.num_classes})
    network = PlateRecognizer(config, layer_scale=1.0)
    return save_model_dir(tmp_path_factory.mktemp("tiny") / "model", network, vocab, COMPACT_GEOMETRY, half=False)




@pytest.fixture(scope="session")
def upstream_dir(tmp_path_factory) -> Path:
    pytest.importorskip("modelscope")
    return write_upstream_dir(tmp_path_factory.mktemp("upstream") / "damo_plate")
