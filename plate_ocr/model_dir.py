"""Reading and writing model directories (``configuration.json``, ``vocab.txt``, ``pytorch_model.pt``).

Two layouts are read:

* this project's: ``model.type`` is :data:`MODEL_TYPE`, with ``model.network`` (a preset name
  and/or sizes) and ``model.inference_kwargs`` (:class:`~plate_ocr.geometry.ChunkGeometry`);
* ModelScope's own ``OCRRecognition`` / ``ConvNextViT`` directories (also the 1.2-era ones with
  ``label_dict.txt`` and no ``model`` section), read with upstream's network and geometry.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch

from .formats import check_decoder
from .geometry import ChunkGeometry
from .network import NetworkConfig, PlateRecognizer, checkpoint_filter_fn, infer_config, strip_prefixes
from .vocab import CTCVocab

logger = logging.getLogger(__name__)

CONFIG_FILE = "configuration.json"
WEIGHTS_FILE = "pytorch_model.pt"
VOCAB_FILE = "vocab.txt"
LEGACY_VOCAB_FILE = "label_dict.txt"

TASK = "ocr-recognition"
MODEL_TYPE = "plate-ocr-recognizer"
PIPELINE_TYPE = "plate-ocr-recognition"
PREPROCESSOR_TYPE = "plate-ocr-preprocessor"
UPSTREAM_MODEL_TYPE = "OCRRecognition"


class ModelDirError(ValueError):
    """A model directory that cannot be used; the message names the directory and the problem."""


@dataclass(frozen=True)
class ModelSpec:
    """Everything a model directory says, parsed once."""

    network: NetworkConfig
    geometry: ChunkGeometry
    vocab: CTCVocab
    upstream: bool
    #: ``model.int8``: the directory's accuracy was checked with int8 matrix products, so engine
    #: ``auto`` runs it on ``onnxruntime-int8`` (see :mod:`plate_ocr.engines`).
    int8: bool = False
    #: ``model.decoder``: how logits become text (:data:`plate_ocr.formats.DECODERS`).
    decoder: str = "greedy"


def read_config(model_dir: str | Path) -> dict[str, Any]:
    path = Path(model_dir) / CONFIG_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelDirError(f"{model_dir}: no {CONFIG_FILE}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelDirError(f"{path}: not valid JSON ({exc})") from None


def find_vocab(model_dir: str | Path) -> Path:
    for name in (VOCAB_FILE, LEGACY_VOCAB_FILE):
        if (Path(model_dir) / name).is_file():
            return Path(model_dir) / name
    raise ModelDirError(f"{model_dir}: no {VOCAB_FILE} (or {LEGACY_VOCAB_FILE})")


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Loads a plain state_dict (no pickled code: ``weights_only``), prefixes stripped."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelDirError(f"{path}: no such weights file") from None
    except Exception as exc:
        raise ModelDirError(f"{path}: cannot load weights ({exc})") from None
    if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelDirError(f"{path}: not a state_dict of tensors")
    return strip_prefixes(state)


def parse_spec(model_dir: str | Path, state_dict: Mapping[str, torch.Tensor] | None = None) -> ModelSpec:
    """Parses a directory's configuration and vocab (and, for upstream, sizes off the weights)."""
    config = read_config(model_dir)
    model_cfg = config.get("model") or {}
    upstream = model_cfg.get("type", UPSTREAM_MODEL_TYPE) == UPSTREAM_MODEL_TYPE
    vocab = CTCVocab.from_file(find_vocab(model_dir), strict=not upstream and model_cfg.get("vocab_strict", True))
    try:
        geometry = ChunkGeometry.from_dict(model_cfg.get("inference_kwargs") or {})
        if upstream:
            recognizer = model_cfg.get("recognizer", "ConvNextViT")
            if recognizer != "ConvNextViT":
                raise ValueError(f"model.recognizer: only ConvNextViT is supported, got {recognizer!r}")
            if state_dict is None:
                state_dict = load_state_dict(Path(model_dir) / WEIGHTS_FILE)
            try:
                network = infer_config(state_dict)
            except (KeyError, IndexError) as exc:
                raise ValueError(f"{WEIGHTS_FILE} is not a ConvNextViT checkpoint (no {exc})") from None
        elif model_cfg.get("type") == MODEL_TYPE:
            # The head size is the vocab's unless stated (converted upstream heads are larger).
            network = NetworkConfig.from_dict(
                {**(model_cfg.get("network") or {}),
                 "num_classes": model_cfg.get("num_classes", vocab.num_classes),
                 "num_positions": geometry.tokens_per_chunk})
        else:
            raise ValueError(f"model.type: expected {MODEL_TYPE!r} or {UPSTREAM_MODEL_TYPE!r}, got {model_cfg.get('type')!r}")
        int8 = model_cfg.get("int8", False)
        if not isinstance(int8, bool):
            raise ValueError(f"model.int8: must be true or false, got {int8!r}")
        decoder = check_decoder(model_cfg.get("decoder", "greedy"), "model.decoder")
    except ValueError as exc:
        raise ModelDirError(f"{Path(model_dir) / CONFIG_FILE}: {exc}") from None
    if len(vocab) > network.num_classes - CTCVocab.FIRST_ID:
        raise ModelDirError(
            f"{model_dir}: vocab has {len(vocab)} lines but the head has only "
            f"{network.num_classes - CTCVocab.FIRST_ID} usable classes")
    if network.num_positions != geometry.tokens_per_chunk:
        raise ModelDirError(
            f"{model_dir}: chunk_width {geometry.chunk_width} gives {geometry.tokens_per_chunk} tokens but "
            f"the weights have {network.num_positions} positions")
    return ModelSpec(network=network, geometry=geometry, vocab=vocab, upstream=upstream, int8=int8,
                     decoder=decoder)


def load_model_dir(model_dir: str | Path) -> tuple[PlateRecognizer, ModelSpec]:
    """Builds the network of a model directory and loads its weights strictly, in eval mode.

    Raises:
        ModelDirError: naming missing or unexpected weight keys, shape mismatches, or config errors.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelDirError(f"{model_dir}: not a directory")
    state = load_state_dict(model_dir / WEIGHTS_FILE)
    spec = parse_spec(model_dir, state)
    network = PlateRecognizer(spec.network)
    try:
        network.load_state_dict(checkpoint_filter_fn(state, network), strict=True)
    except ValueError as exc:
        raise ModelDirError(f"{model_dir / WEIGHTS_FILE}: {exc}") from None
    network.eval()
    return network, spec


def model_config_dict(network: NetworkConfig, geometry: ChunkGeometry, preset: str | None = None,
                      allow_remote: bool = False, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``configuration.json`` of this project's model directories."""
    net = network.to_dict()
    # Derived from the vocab and the chunk width when loading: not stored twice.
    net.pop("num_classes")
    net.pop("num_positions")
    if preset:
        net = {"preset": preset, **net}
    config: dict[str, Any] = {
        "framework": "pytorch",
        "task": TASK,
        "pipeline": {"type": PIPELINE_TYPE},
        "model": {"type": MODEL_TYPE, "network": net, "inference_kwargs": geometry.to_dict()},
        "preprocessor": {"type": PREPROCESSOR_TYPE},
    }
    if allow_remote:  # only hub exports: with it, ModelScope insists on trust_remote_code=True
        config["allow_remote"] = True
    if extra:
        config.update(extra)
    return config


def save_model_dir(model_dir: str | Path, network: PlateRecognizer, vocab: CTCVocab, geometry: ChunkGeometry,
                   half: bool = True, preset: str | None = None, extra: Mapping[str, Any] | None = None) -> Path:
    """Writes configuration, vocab and weights (fp16 by default; loading casts back to fp32).

    Existing non-model files of the directory are left alone.
    """
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    state = {k: (v.detach().half() if half and v.is_floating_point() else v.detach()).clone().contiguous()
             for k, v in network.state_dict().items()}
    tmp = model_dir / (WEIGHTS_FILE + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, model_dir / WEIGHTS_FILE)
    vocab.save(model_dir / VOCAB_FILE)
    config = model_config_dict(network.config, geometry, preset=preset, extra=extra)
    (model_dir / CONFIG_FILE).write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return model_dir
