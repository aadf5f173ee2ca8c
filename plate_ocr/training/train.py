"""Plain-PyTorch CTC training on CPU: mixed real + synthetic plates, periodic dev evaluation,
resumable state, and an output folder that is itself a model directory.

Output folder layout: ``configuration.json``, ``vocab.txt``, ``pytorch_model.pt`` (the best
weights so far by dev exact match, fp16; with ``--ema``, of the weights' moving average),
``train_state.pt`` (fp32 weights, their average, optimiser, step, best score and which dev set
gave it: for ``--resume``), ``train.log`` and ``metrics.jsonl`` (one line per evaluation).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..formats import CHARSET
from ..geometry import COMPACT_GEOMETRY, ChunkGeometry
from ..model_dir import WEIGHTS_FILE, load_model_dir, save_model_dir
from ..network import PRESETS, NetworkConfig, PlateRecognizer, count_parameters, grow, with_color_input
from ..reader import PlateReader
from ..vocab import CTCVocab
from .data import Sample, TrainingMix, read_source
from .evaluate import evaluate

logger = logging.getLogger(__name__)

#: The bundled model's characters: provinces, special suffixes/prefixes, digits, letters (no I, O),
#: exactly what the synthesiser can write.
PLATE_CHARS = CHARSET
STATE_FILE = "train_state.pt"


@dataclass
class TrainConfig:
    """One training run (the CLI's ``plate-ocr train`` options)."""

    out: Path
    data: list[str] = field(default_factory=list)
    dev: list[str] = field(default_factory=list)
    synth_assets: str | None = None
    synth_weights: dict[str, float] | None = None
    cjk_fonts: list[str] = field(default_factory=list)
    real_fraction: float = 0.5
    gray_fraction: float = 0.0
    ema_decay: float = 0.0
    steps: int = 10000
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup_steps: int = 300
    ramp_fraction: float = 0.15
    eval_every: int = 500
    seed: int = 0
    preset: str = "convnext-vit-compact"
    init_from: str | None = None
    depths: tuple[int, ...] | None = None
    num_blocks: int | None = None
    top_row_share: float | None = None
    color: bool = False
    layer_scale: float = 0.1
    workers: int = 1
    threads: int = 2
    resume: bool = False
    progress: bool = True
    time_limit_s: float | None = None

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        if self.preset not in PRESETS:
            raise ValueError(f"preset: unknown {self.preset!r}; known: {sorted(PRESETS)}")
        for name in ("steps", "batch_size", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0 <= self.real_fraction <= 1:
            raise ValueError(f"real_fraction must lie in [0, 1], got {self.real_fraction}")
        if not 0 <= self.gray_fraction <= 1:
            raise ValueError(f"gray_fraction must lie in [0, 1], got {self.gray_fraction}")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must lie in [0, 1), got {self.ema_decay}")
        if (self.synth_weights or self.cjk_fonts) and not self.synth_assets:
            # a run asked for a synthetic mix but would silently train on real crops alone
            raise ValueError("synth_weights or cjk_fonts given without synth_assets (plate-ocr train --synth DIR)")


class CanvasDataset(Dataset):
    """Index -> (canvas uint8 (32, W, 3), label ids) through the inference geometry."""

    def __init__(self, mix: TrainingMix, geometry: ChunkGeometry, vocab: CTCVocab, offset: int, length: int) -> None:
        self.mix, self.geometry, self.vocab = mix, geometry, vocab
        self.offset, self.length = offset, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int):
        image, label, two_rows = self.mix.item(self.offset + i)
        canvas = self.geometry.fit(image, two_rows=two_rows)
        return torch.from_numpy(canvas), torch.tensor(self.vocab.encode(label), dtype=torch.long)


def collate(batch):
    canvases = torch.stack([c for c, _ in batch])
    targets = [t for _, t in batch]
    return canvases, torch.cat(targets), torch.tensor([len(t) for t in targets], dtype=torch.long)


def canvas_logits(network: PlateRecognizer, geometry: ChunkGeometry, canvases: torch.Tensor) -> torch.Tensor:
    """Differentiable forward of (B, 32, W, 3) uint8 canvases -> (B, T, C) logits, chunks merged."""
    x = canvases.permute(0, 3, 1, 2).float() / 255.0  # channels-last, like the network in training
    if geometry.num_chunks == 1:
        return network(x)
    b = x.shape[0]
    chunks = torch.cat([x[..., s:s + geometry.chunk_width] for s in geometry.chunk_starts])
    feats = network.encode(chunks).view(geometry.num_chunks, b, geometry.tokens_per_chunk, -1)
    merged = torch.cat([feats[i, :, lo:hi] for i, (lo, hi) in enumerate(geometry.token_spans)], dim=1)
    return network.classify(merged)


def remap_head(network: PlateRecognizer, old: CTCVocab, new: CTCVocab) -> PlateRecognizer:
    """A copy of ``network`` whose head has ``new``'s classes; rows of shared characters (and
    blank/reserved) are kept, new characters start from the mean row."""
    config = NetworkConfig(**{**asdict(network.config), "num_classes": new.num_classes})
    out = PlateRecognizer(config)
    state = {k: v for k, v in network.state_dict().items() if not k.startswith("vitstr.head.")}
    out.load_state_dict(state, strict=False)
    old_w, old_b = network.vitstr.head.weight.data, network.vitstr.head.bias.data
    w = old_w.mean(0, keepdim=True).repeat(new.num_classes, 1)
    b = old_b.mean().repeat(new.num_classes)
    w[:2], b[:2] = old_w[:2], old_b[:2]
    for char in new.tokens:
        if char in old:
            w[new.encode(char)[0]] = old_w[old.encode(char)[0]]
            b[new.encode(char)[0]] = old_b[old.encode(char)[0]]
    out.vitstr.head.weight.data.copy_(w)
    out.vitstr.head.bias.data.copy_(b)
    return out


def build_start(cfg: TrainConfig) -> tuple[PlateRecognizer, CTCVocab, ChunkGeometry]:
    """The network to train: ``init_from`` (head remapped to the plate vocab if needed, grown
    if ``depths`` or ``num_blocks`` ask for more blocks, given RGB input if ``color`` and it is
    gray), or a fresh ``preset`` with those sizes (and RGB input if ``color``)."""
    vocab = CTCVocab.from_chars(PLATE_CHARS)
    if cfg.init_from:
        network, spec = load_model_dir(cfg.init_from)
        geometry = spec.geometry
        if spec.vocab.tokens != vocab.tokens:
            logger.info("fine-tuning %s: head remapped from %d to %d classes", cfg.init_from,
                        network.config.num_classes, vocab.num_classes)
            network = remap_head(network, spec.vocab, vocab)
        if cfg.depths is not None or cfg.num_blocks is not None:
            before = network.config
            network = grow(network, cfg.depths, cfg.num_blocks)
            logger.info("grown from depths %s and %d transformer blocks to %s and %d", before.depths,
                        before.num_blocks, network.config.depths, network.config.num_blocks)
        if cfg.color and network.config.in_channels == 1:
            network = with_color_input(network)
            logger.info("input: gray -> RGB (the stem starts as the gray conversion)")
        if cfg.top_row_share is not None:
            logger.info("two-row split: top row share %s -> %s", geometry.top_row_share, cfg.top_row_share)
            geometry = replace(geometry, top_row_share=cfg.top_row_share)
        return network, vocab, geometry
    geometry = COMPACT_GEOMETRY
    if cfg.top_row_share is not None:
        geometry = replace(geometry, top_row_share=cfg.top_row_share)
    sizes = {k: v for k, v in (("depths", cfg.depths), ("num_blocks", cfg.num_blocks),
                               ("in_channels", 3 if cfg.color else None)) if v is not None}
    config = NetworkConfig(**{**asdict(PRESETS[cfg.preset]), "num_classes": vocab.num_classes,
                              "num_positions": geometry.tokens_per_chunk, **sizes})
    torch.manual_seed(cfg.seed)
    return PlateRecognizer(config, layer_scale=cfg.layer_scale), vocab, geometry


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to 2 % of the peak."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


class WeightAverage:
    """An exponential moving average of a network's weights, updated after every optimiser step.

    The average is what gets evaluated, picked and saved: it smooths out the step-to-step noise
    of the last weights, which at small learning rates moves validation by several plates.
    It starts as a copy of the network, so a fine-tuning run starts from the model it was given.
    Parameters are the network's whole state: the family normalises with LayerNorm and keeps no
    running statistics (no buffers) that would need carrying over.
    """

    def __init__(self, network: nn.Module, decay: float) -> None:
        self.decay = decay
        self.network = copy.deepcopy(network).eval()
        for p in self.network.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, network: nn.Module) -> None:
        for mine, theirs in zip(self.network.parameters(), network.parameters()):
            mine.lerp_(theirs, 1.0 - self.decay)


def _load_sets(specs: Sequence[str]) -> list[Sample]:
    out: list[Sample] = []
    for spec in specs:
        out.extend(read_source(spec))
    return out


def _fingerprint(samples: Sequence[Sample]) -> str:
    """Names which images and labels a dev set holds, so a resumed run can tell it changed."""
    digest = hashlib.sha256()
    for sample in samples:
        digest.update(f"{sample.name}\t{sample.label}\n".encode("utf-8"))
    return digest.hexdigest()


def _progress(total: int, initial: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, mininterval=2.0)


def train(cfg: TrainConfig) -> dict:
    """Runs (or resumes) a training run; returns the best dev summary (or the last one)."""
    torch.set_num_threads(cfg.threads)
    cfg.out.mkdir(parents=True, exist_ok=True)
    network, vocab, geometry = build_start(cfg)
    # channels-last weights and canvases: a fifth less time per step on CPU (no layout copies
    # around the depthwise convolutions); the saved weights are the same numbers
    network = network.to(memory_format=torch.channels_last)
    real = _load_sets(cfg.data)
    dev = _load_sets(cfg.dev)
    dev_fingerprint = _fingerprint(dev)
    for sample in real:  # fail early, naming the row, rather than inside a worker
        vocab.encode(sample.label)
    synth = None
    if cfg.synth_assets:
        from .synth import PlateSynthesizer
        synth = PlateSynthesizer(cfg.synth_assets, seed=cfg.seed, type_weights=cfg.synth_weights,
                                 cjk_fonts=cfg.cjk_fonts).sample
    mix = TrainingMix(real, synth, cfg.real_fraction, cfg.seed, ramp=int(cfg.ramp_fraction * cfg.steps * cfg.batch_size),
                      gray_fraction=cfg.gray_fraction)
    optimizer = torch.optim.AdamW(network.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    average = WeightAverage(network, cfg.ema_decay) if cfg.ema_decay else None
    kept = network if average is None else average.network  # what is evaluated, picked and saved
    step, best = 0, None
    state_path = cfg.out / STATE_FILE
    if cfg.resume and state_path.exists():
        state = torch.load(state_path, map_location="cpu", weights_only=False)
        network.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, best = state["step"], state["best"]
        if state.get("dev_fingerprint") != dev_fingerprint:
            # scores on another set do not compare: the first evaluation from here is kept
            logger.info("dev set differs from the saved run's: best-so-far %s dropped", best)
            best = None
        if average is not None:
            # a state from a run without averaging restarts the average from its last weights
            average.network.load_state_dict(state.get("average", state["model"]))
        logger.info("resumed %s at step %d (best %s)", state_path, step, best)
    logger.info("run %s: %s parameters, %d real samples, synthesis %s, config %s", cfg.out,
                f"{count_parameters(network):,}", len(real), "on" if synth else "off",
                json.dumps({k: str(v) for k, v in asdict(cfg).items()}, ensure_ascii=False))
    loader = DataLoader(
        CanvasDataset(mix, geometry, vocab, offset=step * cfg.batch_size, length=(cfg.steps - step) * cfg.batch_size),
        batch_size=cfg.batch_size, shuffle=False, num_workers=cfg.workers, collate_fn=collate,
        persistent_workers=False, prefetch_factor=4 if cfg.workers else None)
    ctc = nn.CTCLoss(blank=CTCVocab.BLANK_ID, zero_infinity=True)
    bar = _progress(cfg.steps, step, cfg.progress)
    started = time.time()
    window_loss, window_n, window_t = 0.0, 0, time.time()
    network.train()
    last_summary = None
    for canvases, targets, target_lengths in loader:
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, cfg)
        logits = canvas_logits(network, geometry, canvases)
        log_probs = logits.log_softmax(-1).transpose(0, 1)  # (T, B, C) as CTCLoss wants
        input_lengths = torch.full((logits.shape[0],), logits.shape[1], dtype=torch.long)
        loss = ctc(log_probs, targets, input_lengths, target_lengths)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(network.parameters(), 5.0)
        optimizer.step()
        if average is not None:
            average.update(network)
        step += 1
        window_loss += loss.item()
        window_n += 1
        if bar is not None:
            bar.update(1)
            if step % 10 == 0:
                bar.set_postfix(loss=f"{window_loss / window_n:.3f}", lr=f"{lr_at(step, cfg):.2e}")
        timed_out = cfg.time_limit_s is not None and time.time() - started > cfg.time_limit_s
        if step % cfg.eval_every == 0 or step == cfg.steps or timed_out:
            rate = window_n * cfg.batch_size / (time.time() - window_t)
            summary = evaluate(PlateReader(kept, vocab, geometry), dev) if dev else None
            network.train()
            record = {"step": step, "loss": window_loss / window_n, "samples_per_s": rate,
                      "elapsed_s": time.time() - started}
            if summary:
                record.update({k: summary[k] for k in ("exact_match", "char_accuracy", "exact_match_no_province")})
                record["by_type"] = {k: v["exact_match"] for k, v in summary["by_type"].items()}
            score = (summary["exact_match"], summary["char_accuracy"]) if summary else (step, 0)
            if best is None or tuple(score) >= tuple(best):
                best = list(score)
                save_model_dir(cfg.out, kept, vocab, geometry)
                record["saved"] = True
            logger.info("step %d: %s", step, json.dumps(record, ensure_ascii=False))
            with open(cfg.out / "metrics.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
            state = {"model": network.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                     "best": best, "dev_fingerprint": dev_fingerprint,
                     "config": {k: str(v) for k, v in asdict(cfg).items()}}
            if average is not None:
                state["average"] = average.network.state_dict()
            torch.save(state, state_path)
            last_summary = summary or record
            window_loss, window_n, window_t = 0.0, 0, time.time()
            if timed_out:
                logger.info("time limit reached at step %d", step)
                break
    if bar is not None:
        bar.close()
    if not (cfg.out / WEIGHTS_FILE).exists():
        save_model_dir(cfg.out, kept, vocab, geometry)
    return {"best": best, "last": last_summary, "step": step}
