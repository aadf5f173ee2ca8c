"""Helpers shared by the tests (imported relatively, so every test file imports as a package module)."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import shutil
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PLATE_OCR_SHARED", REPO.parent / "shared"))
REAL = SHARED / "data" / "plates" / "real"
SYNTH_ASSETS = SHARED / "data" / "plates" / "synth"


def config_copy(model_dir: Path, dst: Path, key: str, value: object) -> Path:
    """A copy of a model directory at ``dst`` with ``model.<key>`` of its configuration set."""
    from plate_ocr.model_dir import CONFIG_FILE, read_config

    shutil.copytree(model_dir, dst)
    config = read_config(dst)
    config["model"][key] = value
    (dst / CONFIG_FILE).write_text(json.dumps(config), encoding="utf-8")
    return dst


def real_rows(split: str = "dev", limit: int | None = None) -> list[tuple[str, str]]:
    path = REAL / f"{split}.tsv"
    if not path.exists():
        pytest.skip(f"{path} not present")
    with open(path, encoding="utf-8") as f:
        rows = [(str(REAL / r["path"]), r["label"]) for r in csv.DictReader(f, delimiter="\t")]
    return rows[:limit] if limit else rows


def write_tsv(path: Path, rows: list[tuple[str, str]]) -> str:
    """A headerless ``path<TAB>label`` list, as training and evaluation read it; returns the path."""
    path.write_text("".join(f"{p}\t{l}\n" for p, l in rows), encoding="utf-8")
    return str(path)


def load_script(name: str):
    """``scripts/NAME.py`` as a module (the scripts are not part of the package)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_upstream_dir(path: Path, seed: int = 0, prefix: str = "recognizer.", legacy: bool = False) -> Path:
    """A directory in DAMO's format whose weights come from ModelScope's built-in ConvNextViT.

    The vocab has 7642 distinct CJK characters, so every head class has a line (upstream would
    crash on any other argmax).
    """
    from modelscope.models.cv.ocr_recognition.modules.ConvNextViT.main_model import ConvNextViT

    path.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = ConvNextViT()
    torch.save({prefix + k: v for k, v in model.state_dict().items()}, path / "pytorch_model.pt")
    vocab = "".join(chr(0x4E00 + i) + "\n" for i in range(7642))
    (path / ("label_dict.txt" if legacy else "vocab.txt")).write_text(vocab, encoding="utf-8")
    config = {"framework": "pytorch", "task": "ocr-recognition", "pipeline": {"type": "convnextTiny-ocr-recognition"}}
    if not legacy:
        config["model"] = {"type": "OCRRecognition", "recognizer": "ConvNextViT",
                           "inference_kwargs": {"img_height": 32, "img_width": 804, "do_chunking": True}}
        config["preprocessor"] = {"type": "ocr-recognition"}
    (path / "configuration.json").write_text(json.dumps(config), encoding="utf-8")
    return path
