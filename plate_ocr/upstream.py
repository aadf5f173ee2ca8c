"""Bringing DAMO's ModelScope weights in, and exporting hub-style (remote-code) directories.

``convert_upstream`` reads a ``damo/cv_convnextTiny_ocr-recognition-*`` directory (modelscope
>= 1.7 layout, or the 1.2-era one with ``label_dict.txt`` and no ``model`` section) and writes a
plate-ocr model directory: the same weights under the same names (prefixes stripped), the class
count taken from the checkpoint, the vocab as it is, and upstream's chunk geometry. The reader can
also load the upstream directory directly; converting makes it loadable by this plugin's pipeline
type and checks it fully once.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from .model_dir import CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE, ModelDirError, load_model_dir, model_config_dict, read_config

#: Package modules a remote-code directory needs (inference only: no training, no CLI).
RUNTIME_MODULES = ("__init__.py", "engines.py", "formats.py", "geometry.py", "imageio.py", "model_dir.py",
                   "modelscope_adapter.py", "network.py", "reader.py", "vocab.py")

_ENTRY_TEMPLATE = '''"""ModelScope entry point: the plate {what} (the code lives in ``plate_ocr``)."""

try:  # ModelScope's remote-code route imports this file as ``<model dir>.{module}``
    from .plate_ocr.modelscope_adapter import {cls}
except ImportError:  # the installed package, or this file run from the repository root
    from plate_ocr.modelscope_adapter import {cls}

__all__ = ["{cls}"]
'''

#: The root entry-point files (``model.py`` etc.), identical in the repository and in exports.
ENTRY_POINTS = {
    f"{module}.py": _ENTRY_TEMPLATE.format(what=what, module=module, cls=cls)
    for module, what, cls in (
        ("model", "recogniser model", "PlateOCRModel"),
        ("pipeline", "reading pipeline", "PlateOCRPipeline"),
        ("preprocessor", "image preprocessor", "PlateOCRPreprocessor"),
    )
}


def convert_upstream(src: str | Path, dst: str | Path, half: bool = False) -> Path:
    """Writes a plate-ocr model directory from an upstream ConvNextViT directory.

    Raises:
        ModelDirError: naming what is missing or does not fit (every weight key is checked).
    """
    src, dst = Path(src), Path(dst)
    network, spec = load_model_dir(src)  # strict: every key, the vocab length and the geometry
    if not spec.upstream:
        raise ModelDirError(f"{src}: already a plate-ocr model directory (model.type is not OCRRecognition)")
    vocab, network_cfg, geometry = spec.vocab, spec.network, spec.geometry
    dst.mkdir(parents=True, exist_ok=True)
    weights = {k: (v.half() if half else v) for k, v in network.state_dict().items()}
    torch.save(weights, dst / WEIGHTS_FILE)
    vocab.save(dst / VOCAB_FILE)
    out_cfg = model_config_dict(network_cfg, geometry, allow_remote=False)
    out_cfg["model"]["num_classes"] = network_cfg.num_classes
    out_cfg["model"]["vocab_strict"] = not vocab.problems()
    out_cfg["converted_from"] = {"dir": str(src.resolve()), "model": "ModelScope ConvNextViT"}
    (dst / CONFIG_FILE).write_text(json.dumps(out_cfg, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return dst


def export_hub_dir(src: str | Path, dst: str | Path) -> Path:
    """Writes a self-contained model directory for ModelScope's remote-code route.

    ``pipeline(Tasks.ocr_recognition, model=dst, trust_remote_code=True)`` then works in an
    environment where this package is not installed (ModelScope itself, torch, numpy, Pillow and
    OpenCV are needed).
    """
    src, dst = Path(src), Path(dst)
    config = read_config(src)
    dst.mkdir(parents=True, exist_ok=True)
    for name in (WEIGHTS_FILE, VOCAB_FILE, "README.md"):
        if (src / name).is_file():
            shutil.copyfile(src / name, dst / name)
    config["allow_remote"] = True
    (dst / CONFIG_FILE).write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    package = Path(__file__).resolve().parent
    (dst / "plate_ocr").mkdir(exist_ok=True)
    for name in RUNTIME_MODULES:
        shutil.copyfile(package / name, dst / "plate_ocr" / name)
    for name, text in ENTRY_POINTS.items():
        (dst / name).write_text(text, encoding="utf-8")
    return dst
