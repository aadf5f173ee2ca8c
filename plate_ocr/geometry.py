"""How an image becomes fixed-size chunks, and how chunk tokens merge back into one sequence.

Upstream (ModelScope >= 1.7): resize to height 32 keeping the aspect (width truncated, squashed to
804 when wider), paste top-left on a black 32x804 canvas, cut three 300-px chunks at x = 0, 252, 504
and keep tokens [0, 69) + [6, 69) + [6, 75) -> 201 steps. Here that is one instance of
:class:`ChunkGeometry`; the bundled model uses a single 160-px chunk and a stretched resize.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

import cv2
import numpy as np

from .network import STEM_STRIDE

#: Below this width/height ratio an image may be a two-row plate (440x220 mm, aspect 2), so it is
#: read both as one line and split into its rows, and the more confident reading wins. Loose
#: crops of single-row plates (440x140 mm) reach below 2 as well, so aspect alone cannot decide.
DOUBLE_ROW_MAX_ASPECT = 2.4
#: Two-row plates (top row: province + letter, centred; bottom row: five large characters). The
#: gap between the rows is looked for in this band of the image height, ...
ROW_GAP_SEARCH = (0.22, 0.65)
#: ... as the quietest height with a row of characters (about this share of the height) on
#: each side; ...
ROW_HEIGHT = 0.3
#: ... each strip reaches this share of the height past the gap, so a slightly wrong gap still
#: leaves both rows whole, ...
ROW_OVERLAP = 0.06
#: ... the top strip drops this share of the width on each side (its two characters sit in the
#: middle half of the plate), ...
TOP_ROW_SIDE_TRIM = 0.15
#: ... and the top strip gets a share of the canvas width (``ChunkGeometry.top_row_share``). A
#: model directory without that key was trained with this share; ...
TOP_ROW_SHARE = 0.3
#: ... new runs use this one. Worked out from a 440 mm plate (top row 80 mm characters, bottom row
#: 65 mm) on the 160 px canvas: at 0.3 the top row's characters come out about 12 px wide and the
#: bottom row's 16, and top-row provinces were read as letters; at 0.45 they are about 19 and 13
#: px (a single-row plate's: 16), and the bottom row's are twice as tall as they are wide.
COMPACT_TOP_ROW_SHARE = 0.45
#: Before the gap is looked for, a tilted plate is levelled: of these slopes (rise over run, up
#: to about 17 degrees), the one whose levelled rows give the sharpest profile of horizontal
#: gradient is undone by a vertical shear. A plate turned by 10 degrees and twice as wide as
#: high drifts by a third of its height from end to end, far more than ``ROW_OVERLAP``.
ROW_SLOPES = np.linspace(-0.3, 0.3, 13)
#: The slope is measured on the image scaled to this height.
SLOPE_PROBE_HEIGHT = 32


@dataclass(frozen=True)
class ChunkGeometry:
    """Canvas, chunking and resize rules of one model directory.

    Attributes:
        img_height: Canvas height (the network needs 32).
        img_width: Canvas width.
        chunk_width: Width of one chunk the network sees.
        chunk_overlap: Pixels shared by neighbouring chunks (a multiple of 8).
        keep_aspect: Resize to ``img_height`` keeping the aspect and pad black on the right
            (upstream); otherwise stretch every image to the full canvas.
        double_row: Also read images with an aspect under ``DOUBLE_ROW_MAX_ASPECT`` as two-row
            plates: split into rows, side by side, top row first (see :meth:`candidates`).
        top_row_share: Share of the canvas width the top row gets when split (see
            :func:`split_rows`); a model reads best with the share it was trained with.
    """

    img_height: int = 32
    img_width: int = 804
    chunk_width: int = 300
    chunk_overlap: int = 48
    keep_aspect: bool = True
    double_row: bool = False
    top_row_share: float = TOP_ROW_SHARE

    def __post_init__(self) -> None:
        if self.img_height != 32:
            raise ValueError(f"inference_kwargs.img_height: the network needs 32, got {self.img_height}")
        if self.chunk_width <= 0 or self.chunk_width % STEM_STRIDE:
            raise ValueError(f"inference_kwargs.chunk_width: must be a positive multiple of 4, got {self.chunk_width}")
        if self.chunk_overlap < 0 or self.chunk_overlap % (2 * STEM_STRIDE) or self.chunk_overlap >= self.chunk_width:
            raise ValueError(
                f"inference_kwargs.chunk_overlap: must be a multiple of 8 below chunk_width, got {self.chunk_overlap}")
        if not 0.1 <= self.top_row_share <= 0.7:
            raise ValueError(f"inference_kwargs.top_row_share: must lie in [0.1, 0.7], got {self.top_row_share}")
        step = self.chunk_width - self.chunk_overlap
        if self.img_width < self.chunk_width or (self.img_width - self.chunk_overlap) % step:
            raise ValueError(
                f"inference_kwargs.img_width: {self.img_width} is not chunk_width {self.chunk_width} "
                f"plus a whole number of steps of {step}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "ChunkGeometry":
        """Reads ``model.inference_kwargs``; upstream's ``do_chunking`` key is accepted.

        ``do_chunking: false`` means one chunk as wide as the canvas.
        """
        values = dict(values)
        do_chunking = values.pop("do_chunking", True)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"inference_kwargs: unknown key(s) {unknown}; known: {sorted(known | {'do_chunking'})}")
        if not do_chunking:
            values.setdefault("chunk_width", values.get("img_width", cls.img_width))
            values.setdefault("chunk_overlap", 0)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def num_chunks(self) -> int:
        return (self.img_width - self.chunk_overlap) // (self.chunk_width - self.chunk_overlap)

    @property
    def chunk_starts(self) -> tuple[int, ...]:
        step = self.chunk_width - self.chunk_overlap
        return tuple(i * step for i in range(self.num_chunks))

    @property
    def tokens_per_chunk(self) -> int:
        return self.chunk_width // STEM_STRIDE

    @property
    def token_spans(self) -> tuple[tuple[int, int], ...]:
        """Tokens kept from each chunk: half the overlap is trimmed on each inner edge."""
        trim = self.chunk_overlap // STEM_STRIDE // 2
        last = self.num_chunks - 1
        return tuple(
            (0 if i == 0 else trim, self.tokens_per_chunk - (0 if i == last else trim))
            for i in range(self.num_chunks))

    @property
    def sequence_length(self) -> int:
        return sum(end - start for start, end in self.token_spans)

    def may_be_two_rows(self, image: np.ndarray) -> bool:
        return self.double_row and image.shape[1] < DOUBLE_ROW_MAX_ASPECT * image.shape[0]

    def candidates(self, image: np.ndarray) -> list[np.ndarray]:
        """Canvases to read an image as: the image itself, plus its two rows side by side when
        it may be a two-row plate. The reader keeps the more confident reading."""
        if self.may_be_two_rows(image):
            return [self.fit(image), self.fit(image, two_rows=True)]
        return [self.fit(image)]

    def fit(self, image: np.ndarray, two_rows: bool = False) -> np.ndarray:
        """Resizes one RGB uint8 image (H, W, 3) onto the (img_height, img_width, 3) canvas,
        first putting its two rows side by side if ``two_rows``."""
        if two_rows:
            image = split_rows(image, self.img_height, None if self.keep_aspect else self.img_width,
                               self.top_row_share)
        h, w = image.shape[:2]
        canvas = np.zeros((self.img_height, self.img_width, 3), np.uint8)
        if not self.keep_aspect:
            return resize(image, self.img_width, self.img_height)
        if w / h > self.img_width / self.img_height:
            width = self.img_width
        else:
            # Upstream truncates; a sliver thinner than one pixel still gets one column.
            width = max(1, int(self.img_height * (w / h)))
        canvas[:, :width] = resize(image, width, self.img_height)
        return canvas

    def chunks(self, canvas: np.ndarray) -> list[np.ndarray]:
        """Cuts a canvas into (img_height, chunk_width, 3) views, left to right."""
        return [canvas[:, s:s + self.chunk_width] for s in self.chunk_starts]


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bilinear resize (OpenCV's default, as upstream)."""
    if image.shape[1] == width and image.shape[0] == height:
        return image
    return cv2.resize(image, (width, height))


def _horizontal_gradient(gray: np.ndarray) -> np.ndarray:
    """|left-to-right intensity change| of a gray image, float32, one column narrower."""
    return np.abs(np.diff(gray.astype(np.float32), axis=1))


def find_row_gap(image: np.ndarray) -> float:
    """Where the gap between the two rows of a two-row plate lies, as a share of the height.

    Characters make strong horizontal intensity changes and the plate background between the
    rows makes almost none, so the gap is the weakest (smoothed) row of horizontal gradient
    within :data:`ROW_GAP_SEARCH` that has rows on both sides; the outer eighths of the width
    (plate rim, background) are left out.
    """
    h, w = image.shape[:2]
    if h < 3 or w < 3:
        return sum(ROW_GAP_SEARCH) / 2
    gradient = _horizontal_gradient(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
    margin = w // 8
    if gradient.shape[1] > 2 * margin:
        gradient = gradient[:, margin:gradient.shape[1] - margin]
    energy = gradient.mean(axis=1)
    k = max(1, h // 12)
    energy = np.convolve(energy, np.ones(k) / k, mode="same")
    lo = min(h - 1, int(ROW_GAP_SEARCH[0] * h))
    hi = max(lo + 1, int(ROW_GAP_SEARCH[1] * h))
    # A gap is a valley with a row on each side: score each height by how far it lies below
    # the strongest row energy within a row's height above it and below it (blank plate above
    # the top row of a loose crop is as quiet as the gap, but has no row above it).
    reach = max(1, round(ROW_HEIGHT * h))
    padded = np.concatenate([np.zeros(reach), energy, np.zeros(reach)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, reach)
    above = windows[lo:hi].max(axis=1)  # rows y - reach .. y - 1
    below = windows[lo + reach + 1:hi + reach + 1].max(axis=1)  # rows y + 1 .. y + reach
    score = np.minimum(above, below) - energy[lo:hi]
    first = last = int(np.argmax(score))
    while last + 1 < len(score) and score[last + 1] >= score[first] - 1e-3:
        last += 1  # a flat valley: take its middle
    return (lo + (first + last) // 2) / h


def find_row_slope(image: np.ndarray) -> float:
    """The tilt of a plate's rows (rise in y per pixel of x; positive when they go down to the
    right), from :data:`ROW_SLOPES`: the slope along which the rows of horizontal gradient
    line up most sharply (the largest variance of the sheared row profile). 0 for level rows
    and for images too small to tell."""
    h, w = image.shape[:2]
    if h < 4 or w < 4:
        return 0.0
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if h != SLOPE_PROBE_HEIGHT:
        width = max(4, round(w * SLOPE_PROBE_HEIGHT / h))
        gray = cv2.resize(gray, (width, SLOPE_PROBE_HEIGHT), interpolation=cv2.INTER_AREA)
    gradient = _horizontal_gradient(gray)
    h, w = gradient.shape
    # rows[k, y, x]: the source row that level row y reads in column x under slope k
    offsets = np.rint(ROW_SLOPES[:, None] * (np.arange(w) - (w - 1) / 2)).astype(np.int64)
    rows = np.arange(h)[None, :, None] + offsets[:, None, :]
    inside = (rows >= 0) & (rows < h)
    values = np.where(inside, gradient[np.clip(rows, 0, h - 1), np.arange(w)], 0.0)
    profiles = values.sum(2) / np.maximum(inside.sum(2), 1)
    scores = profiles.var(1)
    level = int(np.argmin(np.abs(ROW_SLOPES)))
    best = int(np.argmax(scores))
    # a flat plate or noise: stay level unless a slope is clearly better
    return float(ROW_SLOPES[best]) if scores[best] > 1.05 * scores[level] else 0.0


def level_rows(image: np.ndarray, slope: float) -> np.ndarray:
    """Undoes a row tilt by a vertical shear about the centre column, keeping the image size
    (what leaves at the corners is mostly background; the edge rows fill what comes in)."""
    if slope == 0.0:
        return image
    h, w = image.shape[:2]
    # output (x, y) reads input (x, y + slope * (x - centre))
    shear = np.float32([[1, 0, 0], [slope, 1, -slope * (w - 1) / 2]])
    return cv2.warpAffine(image, shear, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def level_and_find_gap(image: np.ndarray) -> tuple[np.ndarray, float]:
    """A two-row plate levelled (:func:`find_row_slope`, :func:`level_rows`) and the gap between
    its rows (:func:`find_row_gap`); the shear keeps the gap's height at the centre column."""
    levelled = level_rows(image, find_row_slope(image))
    return levelled, find_row_gap(levelled)


def split_rows(image: np.ndarray, height: int, width: int | None = None,
               top_share: float = TOP_ROW_SHARE) -> np.ndarray:
    """Turns a two-row plate into one line: its top row (trimmed at the sides), then its bottom
    row, both ``height`` high, after levelling a tilted plate (:func:`find_row_slope`). The top
    strip takes ``top_share`` of ``width``; without a width, the bottom strip keeps its aspect
    and the top strip is sized to match."""
    image, gap = level_and_find_gap(image)
    h, w = image.shape[:2]
    side = int(w * TOP_ROW_SIDE_TRIM)
    top = image[: max(1, round(h * (gap + ROW_OVERLAP))), side: max(side + 1, w - side)]
    bottom = image[min(h - 1, round(h * (gap - ROW_OVERLAP))):]
    if width is None:
        bottom_width = max(1, round(bottom.shape[1] * height / bottom.shape[0]))
        width = bottom_width + max(1, round(bottom_width * top_share / (1 - top_share)))
    top_width = min(width - 1, max(1, round(width * top_share)))
    return np.concatenate([resize(top, top_width, height), resize(bottom, width - top_width, height)], axis=1)


UPSTREAM_GEOMETRY = ChunkGeometry()
COMPACT_GEOMETRY = ChunkGeometry(img_width=160, chunk_width=160, chunk_overlap=0, keep_aspect=False, double_row=True,
                                 top_row_share=COMPACT_TOP_ROW_SHARE)
