"""Turning whatever a caller passes into one RGB ``uint8`` array, or a clear error naming it.

Accepted: a local path (``str`` or ``os.PathLike``, any Unicode), an ``http(s)://`` URL, encoded
image bytes, a ``PIL.Image.Image`` or a ``numpy`` array.

Numpy arrays are taken the way ModelScope takes them: a 3-channel array is read as RGB as it is
(so ``cv2.imread`` output, which is BGR, should go through ``cv2.cvtColor(a, cv2.COLOR_BGR2RGB)``
first); a 2-D or one-channel array is gray; a 4-channel array loses its alpha channel. ``uint8``
is used as it is, ``uint16`` is scaled by 1/257, ``bool`` maps to 0/255, and floats are read on the
0..255 scale unless every value lies in [0, 1], in which case they are scaled by 255.
"""

from __future__ import annotations

import io
import os
import urllib.request
import warnings
from typing import Any, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: Largest image accepted, in pixels (a 8000x6000 photo is 48 M); larger is refused before decoding.
MAX_PIXELS = 64_000_000
#: Largest encoded image read from a file, bytes or a URL.
MAX_BYTES = 64 * 1024 * 1024
URL_TIMEOUT_S = 10.0

ImageInput = Union[str, os.PathLike, bytes, bytearray, memoryview, np.ndarray, Image.Image]


class PlateInputError(ValueError):
    """An input image that cannot be read; the message names the input and what is wrong."""


def describe(item: Any, index: int | None = None) -> str:
    """A short name for an input, for error messages (``item 3 ('a.jpg')``)."""
    if isinstance(item, (str, os.PathLike)):
        text = os.fspath(item)
        name = repr(text if len(text) <= 120 else text[:117] + "...")
    elif isinstance(item, np.ndarray):
        name = f"numpy array {item.shape} {item.dtype}"
    elif isinstance(item, Image.Image):
        name = f"PIL image {item.size[0]}x{item.size[1]} {item.mode}"
    elif isinstance(item, (bytes, bytearray, memoryview)):
        name = f"{len(item)} bytes"
    else:
        name = type(item).__name__
    return name if index is None else f"item {index} ({name})"


def load_rgb(item: Any, name: str | None = None) -> np.ndarray:
    """Reads one input as an (H, W, 3) ``uint8`` RGB array.

    Args:
        item: See the module docstring.
        name: How errors refer to the input (default: :func:`describe`).

    Raises:
        PlateInputError: for a missing, empty, truncated, undecodable, empty-sized or too large
            image, or an unsupported type.
    """
    name = name or describe(item)
    if isinstance(item, np.ndarray):
        return _from_array(item, name)
    if isinstance(item, Image.Image):
        return _from_pil(item, name)
    if isinstance(item, (bytes, bytearray, memoryview)):
        return _decode(bytes(item), name)
    if isinstance(item, (str, os.PathLike)):
        text = os.fspath(item)
        if isinstance(text, bytes):
            text = os.fsdecode(text)
        if text.startswith(("http://", "https://")):
            return _decode(_fetch(text, name), name)
        return _decode(_read_file(text, name), name)
    raise PlateInputError(
        f"{name}: unsupported input type {type(item).__name__}; expected a path, URL, bytes, "
        "PIL.Image or numpy array")


def _read_file(path: str, name: str) -> bytes:
    if not path:
        raise PlateInputError(f"{name}: empty path")
    try:
        size = os.path.getsize(path)
    except FileNotFoundError:
        raise PlateInputError(f"{name}: no such file") from None
    except OSError as exc:
        raise PlateInputError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if os.path.isdir(path):
        raise PlateInputError(f"{name}: is a directory, not an image file")
    if size > MAX_BYTES:
        raise PlateInputError(f"{name}: file of {size} bytes is larger than the {MAX_BYTES}-byte limit")
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise PlateInputError(f"{name}: cannot read ({exc.strerror or exc})") from None


def _fetch(url: str, name: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=URL_TIMEOUT_S) as response:
            data = response.read(MAX_BYTES + 1)
    except Exception as exc:  # urllib raises many kinds; all mean the same to the caller
        raise PlateInputError(f"{name}: download failed ({exc})") from None
    if len(data) > MAX_BYTES:
        raise PlateInputError(f"{name}: download is larger than the {MAX_BYTES}-byte limit")
    return data


def _decode(data: bytes, name: str) -> np.ndarray:
    if not data:
        raise PlateInputError(f"{name}: empty file (0 bytes)")
    try:
        with warnings.catch_warnings():  # sizes are checked below, with our own limit
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise PlateInputError(f"{name}: image exceeds the pixel limit ({exc})") from None
    except UnidentifiedImageError:
        raise PlateInputError(f"{name}: not an image (format not recognised)") from None
    except Exception as exc:
        raise PlateInputError(f"{name}: cannot decode image ({exc})") from None
    _check_size(image.size[0], image.size[1], name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
            image = ImageOps.exif_transpose(image)
    except Exception as exc:  # truncated data, corrupt streams, decompression bombs
        raise PlateInputError(f"{name}: cannot decode image, file is truncated or corrupt ({exc})") from None
    return _from_pil(image, name)


def _check_size(width: int, height: int, name: str) -> None:
    if width <= 0 or height <= 0:
        raise PlateInputError(f"{name}: image has zero size ({width}x{height})")
    if width * height > MAX_PIXELS:
        raise PlateInputError(
            f"{name}: image of {width}x{height} pixels exceeds the {MAX_PIXELS}-pixel limit")


def _from_pil(image: Image.Image, name: str) -> np.ndarray:
    _check_size(image.size[0], image.size[1], name)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return _from_array(np.asarray(image), name)
    try:
        return np.asarray(image.convert("RGB"))
    except Exception as exc:
        raise PlateInputError(f"{name}: cannot convert {image.mode} image to RGB ({exc})") from None


def _to_uint8(array: np.ndarray, name: str) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if array.dtype == np.uint16:
        return (array.astype(np.uint32) * 255 // 65535).astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer):
        if array.min() < 0 or array.max() > 65535:
            raise PlateInputError(f"{name}: integer pixel values outside 0..65535")
        scale = 65535 if array.max() > 255 else 255
        return (array.astype(np.int64) * 255 // scale).astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise PlateInputError(f"{name}: array holds NaN or infinite values")
        if array.min() >= 0 and array.max() <= 1:
            array = array * 255.0
        return np.clip(np.rint(array), 0, 255).astype(np.uint8)
    raise PlateInputError(f"{name}: unsupported array dtype {array.dtype}")


def _from_array(array: np.ndarray, name: str) -> np.ndarray:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3):
        raise PlateInputError(f"{name}: expected an (H, W) or (H, W, C) array, got shape {array.shape}")
    _check_size(array.shape[1], array.shape[0], name)
    if array.ndim == 3 and array.shape[2] not in (3, 4):
        raise PlateInputError(f"{name}: expected 1, 3 or 4 channels, got {array.shape[2]}")
    array = _to_uint8(array, name)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    elif array.shape[2] == 4:
        array = array[:, :, :3]
    return np.ascontiguousarray(array)
