"""scripts/average_weights.py: the mean of model directories' weights, refused across networks."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from plate_ocr.geometry import COMPACT_GEOMETRY
from plate_ocr.model_dir import ModelDirError, load_model_dir, save_model_dir
from plate_ocr.network import PRESETS, NetworkConfig, PlateRecognizer
from plate_ocr.vocab import CTCVocab

from .support import load_script

average_weights = load_script("average_weights")
SCRIPT = average_weights.__file__

VOCAB = CTCVocab.from_chars("京沪A0123456789")


def model_dir(path: Path, seed: int, **network) -> Path:
    torch.manual_seed(seed)
    config = {**PRESETS["convnext-vit-test"].to_dict(), "num_classes": VOCAB.num_classes, **network}
    return save_model_dir(path, PlateRecognizer(NetworkConfig(**config)), VOCAB, COMPACT_GEOMETRY, half=False)


def test_the_output_holds_the_mean_of_the_weights(tmp_path):
    dirs = [model_dir(tmp_path / f"m{i}", seed=i) for i in range(3)]
    out = tmp_path / "soup"
    done = subprocess.run([sys.executable, str(SCRIPT), str(out), *map(str, dirs)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    soup, spec = load_model_dir(out)
    states = [load_model_dir(d)[0].state_dict() for d in dirs]
    for key, value in soup.state_dict().items():
        mean = sum(s[key] for s in states) / 3
        torch.testing.assert_close(value, mean.half().float(), rtol=0, atol=0)  # saved in fp16
    assert spec.vocab == VOCAB


def test_models_of_different_networks_are_refused_by_name(tmp_path):
    first = model_dir(tmp_path / "m0", seed=0)
    other = model_dir(tmp_path / "m1", seed=1, num_blocks=PRESETS["convnext-vit-test"].num_blocks + 1)
    with pytest.raises(ModelDirError, match=r"m1: its network differs"):
        average_weights.average([first, other])
