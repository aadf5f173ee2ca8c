"""Labelled plate crops: TSV lists, folders, ModelScope LMDB sets, synthesis, and the training mix.

Sources yield :class:`Sample` items (an RGB ``uint8`` image loaded lazily, its label, a type).
"""

from __future__ import annotations

import csv
import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

from ..imageio import load_rgb

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class Sample:
    """One labelled crop. ``image`` is a path, encoded bytes or an array (anything load_rgb takes)."""

    image: object
    label: str
    name: str
    plate_type: str = ""

    def rgb(self) -> np.ndarray:
        return load_rgb(self.image, self.name)


def plate_type_of(label: str) -> str:
    """The plate family a label's format implies (used for per-type breakdowns)."""
    if not label:
        return "empty"
    last = label[-1]
    special = {"警": "police", "学": "coach", "挂": "trailer", "港": "hk_macao", "澳": "hk_macao", "领": "consulate"}
    if last in special:
        return special[last]
    if label[0] == "使":
        return "embassy"
    if label[0].isascii():
        return "military"
    if len(label) == 8:
        return "new_energy"
    return "standard"


def read_tsv(path: str | Path) -> list[Sample]:
    """Reads ``path<TAB>label[<TAB>...]`` rows; relative paths are relative to the TSV's folder.

    A header row starting with ``path`` is skipped; if it names a ``type`` column, that column
    gives the plate type, else the label's format does (:func:`plate_type_of`).
    """
    path = Path(path)
    samples = []
    type_column = None
    with open(path, encoding="utf-8", newline="") as f:
        for line_no, row in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
            if not row:
                continue
            if line_no == 1 and row[0] == "path":
                type_column = row.index("type") if "type" in row else None
                continue
            if len(row) < 2:
                raise ValueError(f"{path}:{line_no}: expected path<TAB>label, got {row!r}")
            image = row[0] if os.path.isabs(row[0]) else str(path.parent / row[0])
            kind = row[type_column] if type_column is not None and len(row) > type_column else plate_type_of(row[1])
            samples.append(Sample(image, row[1], f"{path.name}:{line_no}", kind))
    return samples


def read_folder(path: str | Path) -> list[Sample]:
    """Images in a folder, labelled by file name: the stem up to the first ``_`` (``京A12345_3.jpg``)."""
    samples = []
    for file in sorted(Path(path).iterdir()):
        if file.suffix.lower() in IMAGE_SUFFIXES:
            label = file.stem.split("_")[0]
            samples.append(Sample(str(file), label, str(file), plate_type_of(label)))
    return samples


def _lmdb():
    try:
        import lmdb
    except ImportError:
        raise ImportError("LMDB data sets need the train extra: pip install 'plate-ocr[train]'") from None
    return lmdb


def read_lmdb(path: str | Path) -> list[Sample]:
    """Reads ModelScope's OCR LMDB format: ``num-samples``, ``image-%09d``, ``label-%09d`` (1-based)."""
    lmdb = _lmdb()
    env = lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False)
    samples = []
    with env.begin() as txn:
        raw = txn.get(b"num-samples")
        if raw is None:
            raise ValueError(f"{path}: not an OCR LMDB set (no num-samples key)")
        for i in range(1, int(raw) + 1):
            image = txn.get(b"image-%09d" % i)
            label = txn.get(b"label-%09d" % i)
            if image is None or label is None:
                raise ValueError(f"{path}: sample {i} is missing its image or label")
            text = label.decode("utf-8")
            samples.append(Sample(bytes(image), text, f"{Path(path).name}#{i}", plate_type_of(text)))
    env.close()
    return samples


def write_lmdb(path: str | Path, samples: Sequence[Sample], jpeg_quality: int = 95) -> int:
    """Writes samples in ModelScope's OCR LMDB format; files are stored as their encoded bytes,
    arrays are JPEG-encoded. Returns the count."""
    lmdb = _lmdb()
    Path(path).mkdir(parents=True, exist_ok=True)
    env = lmdb.open(str(path), map_size=1 << 32)
    with env.begin(write=True) as txn:
        for i, sample in enumerate(samples, start=1):
            txn.put(b"image-%09d" % i, encode_image(sample.image, jpeg_quality))
            txn.put(b"label-%09d" % i, sample.label.encode("utf-8"))
        txn.put(b"num-samples", str(len(samples)).encode())
    env.close()
    return len(samples)


def encode_image(image: object, jpeg_quality: int = 95) -> bytes:
    if isinstance(image, (bytes, bytearray)):
        return bytes(image)
    if isinstance(image, (str, os.PathLike)):
        return Path(image).read_bytes()
    rgb = load_rgb(image)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def read_source(spec: str) -> list[Sample]:
    """A data set named on the command line: a ``.tsv`` file, an LMDB folder or an image folder."""
    path = Path(spec)
    if path.is_file() and path.suffix.lower() in (".tsv", ".txt"):
        return read_tsv(path)
    if path.is_dir() and (path / "data.mdb").exists():
        return read_lmdb(path)
    if path.is_dir():
        return read_folder(path)
    raise ValueError(f"{spec}: not a .tsv file, an LMDB folder or an image folder")


# -- augmentation of real crops --------------------------------------------------------------
def augment_crop(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Random geometric and photometric changes to a real crop, scaled by ``strength`` in [0, 1]."""
    h, w = image.shape[:2]
    if strength <= 0:
        return image
    s = strength
    # Perspective / rotation / crop jitter: move each corner by up to a few percent.
    jitter_x, jitter_y = 0.06 * s * w, 0.12 * s * h
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = src + rng.uniform(-1, 1, (4, 2)).astype(np.float32) * np.float32([jitter_x, jitter_y])
    angle = np.deg2rad(rng.normal(0, 4 * s))
    center = np.float32([w / 2, h / 2])
    rot = np.float32([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = (dst - center) @ rot.T + center
    matrix = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    out = cv2.warpPerspective(image, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)
    out = out.astype(np.float32)
    # Photometric: contrast, brightness, colour cast, gamma.
    out = out * rng.uniform(1 - 0.4 * s, 1 + 0.3 * s) + rng.uniform(-40, 40) * s
    out += rng.normal(0, 12 * s, 3).astype(np.float32)
    out = np.clip(out, 0, 255)
    if rng.random() < 0.3 * s:
        out = 255 * (out / 255) ** rng.uniform(0.6, 1.6)
    out = out.astype(np.uint8)
    if rng.random() < 0.4 * s:
        k = int(rng.choice([3, 5]))
        out = cv2.GaussianBlur(out, (k, k), 0)
    if rng.random() < 0.3 * s:  # low resolution
        f = rng.uniform(0.3, 0.8)
        small = cv2.resize(out, (max(8, int(w * f)), max(4, int(h * f))), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (w, h))
    if rng.random() < 0.4 * s:
        noise = rng.normal(0, rng.uniform(2, 12) * s, out.shape)
        out = np.clip(out + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.4 * s:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(20, 90))])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return out


def desaturate(image: np.ndarray) -> np.ndarray:
    """An RGB uint8 image without its colour, as an infrared or monochrome camera sees it: its
    luma in all three channels."""
    return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)


class TrainingMix:
    """Deterministic stream of training samples: real crops (augmented) mixed with synthesis.

    ``item(index)`` depends only on ``(seed, index)``; augmentation strength ramps from
    ``min_strength`` to 1 over the first ``ramp`` samples (a way past the CTC plateau). A
    ``gray_fraction`` of the samples lose their colour, as from infrared and monochrome
    cameras, so that a colour model does not come to rely on colour; the draw comes last, so
    the other samples are the same as without it.
    """

    def __init__(self, real: Sequence[Sample], synth: Callable | None, real_fraction: float,
                 seed: int, ramp: int, min_strength: float = 0.1, gray_fraction: float = 0.0) -> None:
        if not real and synth is None:
            raise ValueError("training needs real samples, synthesis, or both")
        self.real = list(real)
        self.synth = synth
        self.real_fraction = real_fraction if (real and synth is not None) else (1.0 if real else 0.0)
        self.seed = seed
        self.ramp = max(1, ramp)
        self.min_strength = min_strength
        self.gray_fraction = gray_fraction
        self._cache: dict[int, np.ndarray] = {}

    def strength(self, index: int) -> float:
        return min(1.0, self.min_strength + (1 - self.min_strength) * index / self.ramp)

    def item(self, index: int) -> tuple[np.ndarray, str, bool]:
        """``(RGB image, label, two_rows)``; ``two_rows`` marks two-row plates, which training
        feeds split into rows (the reading the pipeline picks for them)."""
        rng = np.random.default_rng([self.seed, index])
        strength = self.strength(index)
        if rng.random() < self.real_fraction:
            k = int(rng.integers(len(self.real)))
            if k not in self._cache:
                self._cache[k] = self.real[k].rgb()
            image, label, two_rows = augment_crop(self._cache[k], rng, strength), self.real[k].label, False
        else:
            from .synth import DOUBLE_ROW_TYPES

            sample = self.synth(index, strength)
            image, label = np.asarray(sample.image.convert("RGB")), sample.label
            two_rows = sample.plate_type in DOUBLE_ROW_TYPES
        if self.gray_fraction and rng.random() < self.gray_fraction:
            image = desaturate(image)
        return image, label, two_rows

