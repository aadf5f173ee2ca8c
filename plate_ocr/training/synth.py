"""Synthetic Chinese licence-plate crops for training the recogniser.

Plates are composed from blank plate templates, glyph images and real segmented character
photos (see ``shared/data/plates/README.md`` beside the repository for the asset folders), then placed on a
background with a camera-like crop and degraded by augmentations whose amount is scaled by a
``strength`` in ``[0, 1]``.

Example:
    >>> synth = PlateSynthesizer("../shared/data/plates/synth", seed=3)
    >>> s = synth.sample(0, strength=0.5)
    >>> s.image.size, s.label, s.plate_type  # doctest: +SKIP
    ((212, 66), '苏A66D08', 'blue')

The object holds only numpy arrays and plain Python containers, so it pickles cheaply for
DataLoader worker processes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..formats import ALNUM, CHARSET, DIGITS, LETTERS, PLATE_FORMATS, PROVINCES, SPECIALS, format_regex

# --------------------------------------------------------------------------------------------
# Vocabulary and label formats
# --------------------------------------------------------------------------------------------

#: The plate types the synthesiser draws, in :data:`plate_ocr.formats.PLATE_FORMATS` order.
PLATE_TYPES: tuple[str, ...] = tuple(PLATE_FORMATS)
DOUBLE_ROW_TYPES: frozenset[str] = frozenset(
    {"yellow_double", "white_army_double", "yellow_trailer_double"}
)

#: Full-match regular expression of the label of each plate type.
LABEL_PATTERNS: dict[str, str] = {t: format_regex(sets) for t, sets in PLATE_FORMATS.items()}

#: Default sampling weight of blue plates; the remainder is shared equally by the other types.
DEFAULT_BLUE_WEIGHT = 0.3
#: Probability of forcing a doubled (repeated) character into a random tail.
REPEAT_PROB = 0.4
#: Probability that a doubled character becomes a run of three.
TRIPLE_PROB = 0.15
#: Distribution of the number of letters among the 5 trailing characters of a standard plate.
TAIL_LETTER_COUNT_PROBS = (0.45, 0.35, 0.2)


def _tail(rng: np.random.Generator, length: int, letter_probs: tuple[float, ...]) -> list[str]:
    """Draws ``length`` alphanumerics with a limited number of letters and optional repeats."""
    n_letters = int(rng.choice(len(letter_probs), p=np.asarray(letter_probs) / sum(letter_probs)))
    n_letters = min(n_letters, length)
    letter_pos = set(rng.choice(length, size=n_letters, replace=False).tolist())
    out = [
        LETTERS[rng.integers(len(LETTERS))] if i in letter_pos else DIGITS[rng.integers(10)]
        for i in range(length)
    ]
    if length >= 2 and rng.random() < REPEAT_PROB:
        i = int(rng.integers(length - 1))
        out[i + 1] = out[i]
        if i + 2 < length and rng.random() < TRIPLE_PROB:
            out[i + 2] = out[i]
    return out


def _digits(rng: np.random.Generator, length: int) -> list[str]:
    """Draws ``length`` digits, sometimes with a doubled digit."""
    return _tail(rng, length, (1.0,))


def random_label(plate_type: str, rng: np.random.Generator) -> str:
    """Draws a random, format-valid label for a plate type.

    Provinces are uniform (rare ones as often as common ones) and doubled characters are
    frequent so that CTC sees repeated symbols.

    Args:
        plate_type: One of ``PLATE_TYPES``.
        rng: Random generator.

    Returns:
        The label string; double-row labels are the top row followed by the bottom row.

    Raises:
        ValueError: If ``plate_type`` is unknown.
    """
    if plate_type not in LABEL_PATTERNS:
        raise ValueError(f"unknown plate type {plate_type!r}")
    prov = PROVINCES[rng.integers(len(PROVINCES))]
    letter = LETTERS[rng.integers(len(LETTERS))]
    if plate_type in ("blue", "yellow", "yellow_double"):
        chars = [prov, letter] + _tail(rng, 5, TAIL_LETTER_COUNT_PROBS)
    elif plate_type == "green_car":
        second = ALNUM[rng.integers(len(ALNUM))] if rng.random() < 0.5 else DIGITS[rng.integers(10)]
        chars = [prov, letter, "DF"[rng.integers(2)], second] + _digits(rng, 4)
    elif plate_type == "green_truck":
        chars = [prov, letter] + _digits(rng, 5) + ["DF"[rng.integers(2)]]
    elif plate_type == "white_police":
        chars = [prov, letter] + _tail(rng, 4, (0.8, 0.2)) + ["警"]
    elif plate_type in ("white_army", "white_army_double"):
        chars = [LETTERS[rng.integers(len(LETTERS))], letter] + _digits(rng, 5)
    elif plate_type == "black_hk_macao":
        chars = ["粤", "Z"] + _tail(rng, 4, (0.6, 0.3, 0.1)) + ["港澳"[rng.integers(2)]]
    elif plate_type == "black_embassy":
        chars = ["使"] + _digits(rng, 6)
    elif plate_type == "black_consulate":
        chars = [prov, letter] + _digits(rng, 4) + ["领"]
    elif plate_type == "yellow_coach":
        chars = [prov, letter] + _tail(rng, 4, (0.7, 0.3)) + ["学"]
    else:  # trailers
        chars = [prov, letter] + _tail(rng, 4, (0.6, 0.3, 0.1)) + ["挂"]
    return "".join(chars)


@dataclass(frozen=True)
class SynthSample:
    """One synthetic plate crop.

    Attributes:
        image: RGB crop.
        label: Plate string (double-row: top row then bottom row).
        plate_type: One of ``PLATE_TYPES``.
        row_gap: Two-row plates: height of the gap between the rows at the plate's centre, as a
            share of the image height (what :func:`plate_ocr.geometry.find_row_gap` looks for);
            None for single-row plates.
    """

    image: Image.Image
    label: str
    plate_type: str
    row_gap: float | None = None


# --------------------------------------------------------------------------------------------
# Plate geometry (1 canvas pixel = 1 mm, GA 36 dimensions)
# --------------------------------------------------------------------------------------------

SINGLE_SIZE = (440, 140)  # width, height
GREEN_SIZE = (480, 140)
DOUBLE_SIZE = (440, 220)
CHAR_W, CHAR_H, CHAR_TOP = 45, 90, 25
CHAR_STEP = 12  # spacing between characters
SEP_GAP = 34  # spacing at the separator dot
GREEN_CHAR_W, GREEN_STEP, GREEN_GAP = 43, 9, 51
DOT_RADIUS = 5
TOP_CHAR_W, TOP_CHAR_H, TOP_Y = 80, 60, 15
TOP_XS = (110, 250)
BOTTOM_CHAR_W, BOTTOM_CHAR_H, BOTTOM_Y, BOTTOM_X0, BOTTOM_STEP = 65, 110, 90, 27.5, 80
CORNER_RADIUS_FRAC = 0.04

# Cell = (x, y, w, h, style) where style selects the glyph family.
_Cell = tuple[float, float, float, float, str]


def _row_cells(n: int, gap_after: int, width: int, char_w: float, step: float, gap: float,
               style: str) -> list[_Cell]:
    total = n * char_w + (n - 2) * step + gap
    x = (width - total) / 2.0
    cells = []
    for i in range(n):
        cells.append((x, CHAR_TOP, char_w, CHAR_H, style))
        x += char_w + (gap if i == gap_after - 1 else step)
    return cells


def _double_cells() -> list[_Cell]:
    cells: list[_Cell] = [(x, TOP_Y, TOP_CHAR_W, TOP_CHAR_H, "top") for x in TOP_XS]
    cells += [
        (BOTTOM_X0 + i * BOTTOM_STEP, BOTTOM_Y, BOTTOM_CHAR_W, BOTTOM_CHAR_H, "bottom")
        for i in range(5)
    ]
    return cells


def _row_gap_in_crop(size: tuple[int, int], quad: np.ndarray, out_h: int) -> float:
    """Height of the middle of the gap between the rows of a two-row plate of ``size`` mm
    placed at ``quad``, at the plate's horizontal centre, as a share of ``out_h``."""
    pw, ph = size
    gap_mm = (TOP_Y + TOP_CHAR_H + BOTTOM_Y) / 2.0
    mat = cv2.getPerspectiveTransform(np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]]), quad.astype(np.float32))
    point = cv2.perspectiveTransform(np.float32([[[pw / 2.0, gap_mm]]]), mat)[0, 0]
    return float(point[1]) / out_h


@dataclass(frozen=True)
class _Style:
    template: str
    size: tuple[int, int]
    cells: tuple[_Cell, ...]
    dot: tuple[float, float] | None  # separator dot centre, None for no dot
    bg: str  # background colour family, see _BG_RANGES
    fg: str  # text colour family
    red: tuple[int, ...] = ()  # indices of red characters


def _sep_dot(cells: list[_Cell], after: int) -> tuple[float, float]:
    left = cells[after - 1]
    right = cells[after]
    return ((left[0] + left[2] + right[0]) / 2.0, left[1] + left[3] / 2.0)


def _build_styles() -> dict[str, _Style]:
    std = _row_cells(7, 2, SINGLE_SIZE[0], CHAR_W, CHAR_STEP, SEP_GAP, "single")
    emb = _row_cells(7, 4, SINGLE_SIZE[0], CHAR_W, CHAR_STEP, SEP_GAP, "single")
    green = _row_cells(8, 2, GREEN_SIZE[0], GREEN_CHAR_W, GREEN_STEP, GREEN_GAP, "green")
    dbl = _double_cells()
    dbl_dot = ((TOP_XS[0] + TOP_CHAR_W + TOP_XS[1]) / 2.0, TOP_Y + TOP_CHAR_H / 2.0)
    s_dot = _sep_dot(std, 2)

    def single(template: str, bg: str, fg: str, red: tuple[int, ...] = (),
               cells: list[_Cell] = std, dot: tuple[float, float] | None = s_dot) -> _Style:
        return _Style(template, SINGLE_SIZE, tuple(cells), dot, bg, fg, red)

    def double(template: str, bg: str, fg: str, red: tuple[int, ...] = ()) -> _Style:
        return _Style(template, DOUBLE_SIZE, tuple(dbl), dbl_dot, bg, fg, red)

    return {
        "blue": single("blue_140", "blue", "white"),
        "yellow": single("yellow_140", "yellow", "black"),
        "yellow_double": double("yellow_220", "yellow", "black"),
        "green_car": _Style("green_car_140", GREEN_SIZE, tuple(green), None, "keep", "black"),
        "green_truck": _Style("green_truck_140", GREEN_SIZE, tuple(green), None, "keep", "black"),
        "white_police": single("white_140", "white", "black", red=(6,)),
        "white_army": single("white_army_140", "white", "black", red=(0, 1)),
        "white_army_double": double("white_220", "white", "black", red=(0, 1)),
        "black_hk_macao": single("black_140", "black", "white"),
        "black_embassy": single("black_shi_140", "black", "white", red=(0,), cells=emb,
                                dot=_sep_dot(emb, 4)),
        "black_consulate": single("black_140", "black", "white", red=(6,)),
        "yellow_coach": single("yellow_140", "yellow", "black"),
        "yellow_trailer": single("yellow_140", "yellow", "black"),
        "yellow_trailer_double": double("yellow_220", "yellow", "black"),
    }


# Background colour ranges (RGB low, RGB high), interpolated with one random scalar plus jitter.
_BG_RANGES: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "blue": ((8, 35, 140), (45, 115, 235)),
    "yellow": ((215, 150, 0), (250, 205, 40)),
    "white": ((215, 218, 220), (250, 250, 250)),
    "black": ((8, 8, 10), (40, 40, 45)),
}
_FG_RANGES: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "white": ((215, 220, 225), (255, 255, 255)),
    "black": ((0, 0, 0), (40, 40, 40)),
    "red": ((170, 0, 0), (230, 40, 40)),
}
BG_JITTER = 12.0

# --------------------------------------------------------------------------------------------
# Augmentation constants (values at strength 1)
# --------------------------------------------------------------------------------------------

OUT_WIDTH_RANGE = (100, 450)
MAX_ROTATION_DEG = 15.0
ROTATION_SIGMA_DEG = 6.0
MAX_SHEAR = 0.25  # horizontal shift of the top edge, fraction of plate height
MAX_FORESHORTEN = 0.18  # relative height difference of the left and right edges
MAX_VERT_FORESHORTEN = 0.08
BASE_MARGIN = 0.04  # margin at strength 0 (fraction of plate height)
MARGIN_RANGE = (-0.06, 0.35)  # extra margin per side at strength 1 (fraction of plate height)
ASPECT_JITTER_SIGMA = 0.10
DOUBLE_ROW_MIN_HEIGHT_RATIO = 0.4  # plate height / width above which a plate is double-row
DOUBLE_ROW_MAX_STRETCH = 1.3  # double-row crops are made up to this much taller
DOUBLE_ROW_MAX_ASPECT = 2.15  # width / height cap of double-row crops
CHAR_OFFSET_SIGMA = 1.2  # mm
P_BLUR, MAX_BLUR_SIGMA = 0.45, 1.6
P_MOTION, MAX_MOTION_LEN = 0.2, 9
P_LOWRES, LOWRES_RANGE = 0.3, (0.3, 0.75)
P_NOISE, MAX_NOISE_SIGMA = 0.5, 12.0
P_JPEG, JPEG_QUALITY_RANGE = 0.6, (12, 90)
P_GRADIENT, P_SHADOW, P_SPECKS, P_CAST = 0.45, 0.25, 0.25, 0.6
SPECK_MAX_RADIUS = 0.025  # fraction of image height
P_FRAME = 0.35  # plate holder frame drawn around the plate
FRAME_WIDTH_RANGE = (0.02, 0.08)  # frame width, fraction of the plate size
CONTRAST_RANGE = (0.45, 1.15)
P_NOPLATE_BG = 0.5
SOFT_EDGE_GAIN = 4.0
STROKE_JITTER = 0.24  # range of the ink threshold (stroke weight) at strength 1
#: Plate canvas scales (pixels per mm) pre-rendered; the smallest sufficient one is used.
RENDER_SCALES = (1.0, 0.8, 0.65, 0.5, 0.4, 0.32, 0.25, 0.2)
#: Output pixels per canvas pixel aimed for before the final warp (mild supersampling).
RENDER_OVERSAMPLE = 1.15
TEMPLATE_SUPERSAMPLE = 2

_GLYPH_SOURCES = ("real", "pengfei", "huang")
_SOURCE_PROBS = (0.45, 0.3, 0.25)
P_MIXED_CHAR = 0.15
REAL_CJK_MAX_PX = 40  # largest rendered cell height that uses real province photos
#: Province photos with more ink than this (fraction of their ink box) are solid blobs that no
#: longer show their character: 113 of the 3,249 photos; the rendered glyphs reach 0.64.
MAX_PROVINCE_INK = 0.74
_REAL_SKIP_STYLES = ("top",)

_PROVINCE_MAPPING_FILE = "province_mapping.txt"
_FONT_STREAM = 7  # third seed word of the font-choice random stream

#: With CJK fonts given, the share of Chinese characters drawn from a font render instead of
#: the glyph sources above (two or three renders of each per style, besides the small photos).
P_FONT_CJK = 0.35
#: Pixel size fonts are rendered at; the render is scaled into the cell like any glyph image.
FONT_RENDER_PX = 96
#: The Chinese characters every plate font must draw.
CJK_CHARS = PROVINCES + SPECIALS


def parse_font_spec(spec: str | Path) -> tuple[Path, int]:
    """``"file.ttc#2"`` -> (file, face index 2); a bare path is face 0."""
    text = str(spec)
    path, sep, index = text.rpartition("#")
    if not sep or not index.isdigit():
        return Path(text), 0
    return Path(path), int(index)


def render_font_glyphs(spec: str | Path, chars: str = CJK_CHARS) -> dict[str, np.ndarray]:
    """Renders ``chars`` with one font face: {char: uint8 ink mask cropped to its ink}.

    Raises:
        FileNotFoundError: If the font file does not exist.
        ValueError: If the file is not a font, or the face lacks some of ``chars`` (it would
            draw its "missing glyph" box), naming the font and the characters.
    """
    from PIL import ImageDraw, ImageFont

    path, index = parse_font_spec(spec)
    if not path.is_file():
        raise FileNotFoundError(f"font not found: {path}")
    try:
        font = ImageFont.truetype(str(path), FONT_RENDER_PX, index=index)
    except OSError as exc:
        raise ValueError(f"font {spec}: cannot be loaded ({exc})") from None

    def draw(char: str) -> np.ndarray:
        canvas = Image.new("L", (FONT_RENDER_PX * 2, FONT_RENDER_PX * 2), 0)
        ImageDraw.Draw(canvas).text((FONT_RENDER_PX // 2, FONT_RENDER_PX // 4), char, fill=255, font=font)
        return np.asarray(canvas)

    missing_box = draw("\ue000")  # a private-use code point: the face's "missing glyph" drawing
    out, missing = {}, []
    for char in chars:
        mask = draw(char)
        crop = _crop_to_ink(mask)
        if crop is None or np.array_equal(mask, missing_box):
            missing.append(char)
        else:
            out[char] = crop
    if missing:
        raise ValueError(f"font {spec} does not draw {''.join(missing)}")
    return out


def _crop_to_ink(mask: np.ndarray, thresh: int = 100) -> np.ndarray | None:
    """Crops a uint8 mask (ink high) to its ink bounding box."""
    ys, xs = np.nonzero(mask > thresh)
    if len(xs) == 0:
        return None
    return np.ascontiguousarray(mask[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1])


def _photo_crops(folder: Path, max_ink: float = 1.0) -> list[np.ndarray]:
    """Ink crops of the segmented character photos in ``folder`` (white ink on black), in file
    order: those at least 12 px high whose ink covers at most ``max_ink`` of their box."""
    crops = []
    for f in sorted(folder.iterdir()):
        img = _read_gray(f)
        crop = None if img is None else _crop_to_ink(img)
        if crop is not None and crop.shape[0] >= 12 and (crop > 127).mean() <= max_ink:
            crops.append(crop)
    return crops


def _read_gray(path: Path) -> np.ndarray | None:
    data = np.fromfile(str(path), dtype=np.uint8)
    return cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)


def _read_unchanged(path: Path) -> np.ndarray | None:
    data = np.fromfile(str(path), dtype=np.uint8)
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)


class PlateSynthesizer:
    """Draws synthetic plate crops, deterministically per ``(seed, index, strength)``.

    Args:
        assets_dir: The ``synth`` asset folder.
        seed: Base seed.
        type_weights: Optional sampling weights by plate type (missing types get 0). Defaults to
            blue 0.3 and the rest shared equally.
        cjk_fonts: Optional font files (``"file.ttc#face"`` for one face of a collection) that
            draw every Chinese plate character. With fonts, a share ``P_FONT_CJK`` of Chinese
            characters is drawn from them. Without, samples are exactly as before fonts existed:
            the font choice uses a random stream of its own.

    Raises:
        FileNotFoundError: If the assets or a font are missing.
        ValueError: If ``type_weights`` names unknown types or sums to zero, or a font lacks a
            character.
    """

    def __init__(self, assets_dir: str | Path, seed: int = 0,
                 type_weights: dict[str, float] | None = None,
                 cjk_fonts: list[str | Path] | tuple[str | Path, ...] = ()) -> None:
        self.assets_dir = Path(assets_dir)
        if not self.assets_dir.is_dir():
            raise FileNotFoundError(f"asset folder not found: {self.assets_dir}")
        self.seed = int(seed)
        if type_weights is None:
            rest = (1.0 - DEFAULT_BLUE_WEIGHT) / (len(PLATE_TYPES) - 1)
            type_weights = {t: (DEFAULT_BLUE_WEIGHT if t == "blue" else rest) for t in PLATE_TYPES}
        unknown = set(type_weights) - set(PLATE_TYPES)
        if unknown:
            raise ValueError(f"unknown plate types in type_weights: {sorted(unknown)}")
        weights = np.array([max(0.0, float(type_weights.get(t, 0.0))) for t in PLATE_TYPES])
        if weights.sum() <= 0:
            raise ValueError("type_weights must have a positive sum")
        self.type_probs = weights / weights.sum()
        self._type_weights = dict(type_weights)
        self._styles = _build_styles()
        self._glyphs = self._load_glyphs()
        self._templates = self._load_templates()
        self._backgrounds = self._load_backgrounds()
        self._lookup = self._build_lookup()
        self.cjk_fonts = tuple(str(f) for f in cjk_fonts)
        self._font_glyphs: dict[str, list[np.ndarray]] = {}
        for spec in self.cjk_fonts:
            for char, crop in render_font_glyphs(spec).items():
                self._font_glyphs.setdefault(char, []).append(crop)

    def __reduce__(self) -> tuple[type, tuple]:
        """Pickles as the constructor arguments; the copy reloads the assets (about 1 s)."""
        return (self.__class__, (self.assets_dir, self.seed, self._type_weights, self.cjk_fonts))

    # ---------------------------------------------------------------- asset loading

    def _load_glyphs(self) -> dict[tuple[str, str], dict[str, list[np.ndarray]]]:
        """Returns {(source, style): {char: [uint8 ink masks cropped to ink]}}."""
        glyphs: dict[tuple[str, str], dict[str, list[np.ndarray]]] = {}

        def add(source: str, style: str, char: str, mask: np.ndarray | None) -> None:
            if mask is None or char not in CHARSET:
                return
            crop = _crop_to_ink(mask)
            if crop is not None and crop.shape[0] >= 4:
                glyphs.setdefault((source, style), {}).setdefault(char, []).append(crop)

        # Real segmented photos (white ink on black).
        easypr = self.assets_dir / "easypr_chars"
        real: dict[str, list[np.ndarray]] = {}
        for d in sorted((easypr / "chars2").iterdir()):
            if d.is_dir() and d.name in ALNUM:
                real.setdefault(d.name, []).extend(_photo_crops(d))
        mapping = {}
        for line in (easypr / _PROVINCE_MAPPING_FILE).read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) == 2:
                mapping[parts[0]] = parts[1]
        for folder, char in mapping.items():
            d = easypr / "charsChinese" / folder
            if d.is_dir():
                real.setdefault(char, []).extend(_photo_crops(d, max_ink=MAX_PROVINCE_INK))
        for style in ("single", "green", "bottom"):
            glyphs[("real", style)] = real

        # pengfei8324 glyph renders (black ink on white).
        font_dir = self.assets_dir / "pengfei8324_generator" / "font_model"
        for f in sorted(font_dir.glob("*.jpg")):
            name = f.stem
            img = _read_gray(f)
            if img is None:
                continue
            ink = 255 - img
            if name.startswith("140_"):
                add("pengfei", "single", name[4:], ink)
            elif name.startswith("green_"):
                add("pengfei", "green", name[6:], ink)
            elif name.startswith("220_up_"):
                add("pengfei", "top", name[7:], ink)
            elif name.startswith("220_down_"):
                add("pengfei", "bottom", name[9:], ink)
            elif name.startswith("220_"):
                char = name[4:]
                add("pengfei", "bottom" if char in DIGITS or char == "挂" else "top", char, ink)

        # huangxinping glyph renders (alpha is the ink).
        hx = self.assets_dir / "huangxinping_generator" / "generator" / "images"
        for sub, style in (("white", "single"), ("black", "single"), ("green", "green"),
                           ("yellow/top", "top"), ("yellow/bottom", "bottom")):
            for f in sorted((hx / sub).glob("*.png")):
                img = _read_unchanged(f)
                if img is None or img.ndim != 3 or img.shape[2] != 4:
                    continue
                char = f.stem.upper() if f.stem.isascii() else f.stem  # green/k.png is K
                add("huang", style, char, img[:, :, 3])
        if not glyphs.get(("pengfei", "single")):
            raise FileNotFoundError(f"no glyph images under {font_dir}")
        return glyphs

    def _load_templates(
        self,
    ) -> dict[tuple[str, float], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """Returns {(template, scale): (RGB float32 HxWx3, background weight HxWx3, alpha HxW in
        [0, 1], current background colour)} at each render scale."""
        out = {}
        model_dir = self.assets_dir / "pengfei8324_generator" / "plate_model"
        for style in self._styles.values():
            name = style.template
            if (name, RENDER_SCALES[0]) in out:
                continue
            raw = _read_unchanged(model_dir / f"{name}.PNG")
            if raw is None:
                raise FileNotFoundError(f"template {name} missing in {model_dir}")
            rgb = cv2.cvtColor(raw[:, :, :3], cv2.COLOR_BGR2RGB)
            base_w, base_h = style.size
            big = (base_w * TEMPLATE_SUPERSAMPLE, base_h * TEMPLATE_SUPERSAMPLE)
            rgb = cv2.resize(rgb, big, interpolation=cv2.INTER_AREA)
            if style.bg != "keep":
                rgb = self._remove_marks(rgb)
            h, w = rgb.shape[:2]
            alpha = np.zeros((h, w), np.uint8)
            radius = int(round(CORNER_RADIUS_FRAC * w))
            cv2.rectangle(alpha, (radius, 0), (w - 1 - radius, h - 1), 255, -1)
            cv2.rectangle(alpha, (0, radius), (w - 1, h - 1 - radius), 255, -1)
            for cx, cy in ((radius, radius), (w - 1 - radius, radius), (radius, h - 1 - radius),
                           (w - 1 - radius, h - 1 - radius)):
                cv2.circle(alpha, (cx, cy), radius, 255, -1, cv2.LINE_AA)
            for scale in RENDER_SCALES:
                size = (int(round(base_w * scale)), int(round(base_h * scale)))
                small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA).astype(np.float32)
                small_alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
                sh, sw = small.shape[:2]
                core = small[sh // 3: 2 * sh // 3, sw // 4: 3 * sw // 4].reshape(-1, 3)
                bg_col = np.median(core, axis=0).astype(np.float32)
                dist = np.abs(small - bg_col).sum(axis=2)
                bg_weight = np.clip(1.0 - dist / 120.0, 0.0, 1.0).astype(np.float32)
                out[(name, scale)] = (
                    small,
                    np.ascontiguousarray(np.repeat(bg_weight[:, :, None], 3, axis=2)),
                    small_alpha.astype(np.float32) / 255.0,
                    bg_col,
                )
        return out

    @staticmethod
    def _remove_marks(rgb: np.ndarray) -> np.ndarray:
        """Inpaints printed dots/marks in the character area of a template."""
        h, w = rgb.shape[:2]
        band = rgb[int(h * 0.2): int(h * 0.8), int(w * 0.06): int(w * 0.94)].astype(np.int32)
        med = np.median(band.reshape(-1, 3), axis=0)
        diff = np.abs(band - med).sum(axis=2) > 60
        mask = np.zeros((h, w), np.uint8)
        mask[int(h * 0.2): int(h * 0.8), int(w * 0.06): int(w * 0.94)] = diff.astype(np.uint8) * 255
        if not mask.any():
            return rgb
        mask = cv2.dilate(mask, np.ones((5, 5), np.uint8))
        return cv2.inpaint(rgb, mask, 3, cv2.INPAINT_TELEA)

    def _load_backgrounds(self) -> list[np.ndarray]:
        out = []
        d = self.assets_dir / "noplate_patches"
        if d.is_dir():
            for f in sorted(d.iterdir()):
                img = _read_unchanged(f)
                if img is not None and img.ndim == 3:
                    out.append(cv2.cvtColor(img[:, :, :3], cv2.COLOR_BGR2RGB))
        return out

    # ---------------------------------------------------------------- sampling

    def sample(self, index: int, strength: float = 1.0) -> SynthSample:
        """Draws one synthetic crop.

        Deterministic in ``(seed, index, strength)``: uses ``np.random.default_rng([seed,
        index])`` and the same sequence of draws for every strength.

        Args:
            index: Non-negative sample index.
            strength: Augmentation amount in ``[0, 1]``; 0 is a clean, centred, upright plate.

        Returns:
            The sample.
        """
        s = float(np.clip(strength, 0.0, 1.0))
        rng = np.random.default_rng([self.seed, int(index)])
        plate_type = PLATE_TYPES[int(rng.choice(len(PLATE_TYPES), p=self.type_probs))]
        label = random_label(plate_type, rng)
        style = self._styles[plate_type]
        quad, out_w, out_h = self._geometry(style.size, rng, s)
        # Output pixels per plate mm, from the longer top edge of the quad.
        px_per_mm = float(np.linalg.norm(quad[1] - quad[0])) / style.size[0]
        render_scale = RENDER_SCALES[0]
        for scale in RENDER_SCALES:
            if scale >= px_per_mm * RENDER_OVERSAMPLE:
                render_scale = scale
        font_draws = None
        if self._font_glyphs:  # a stream of its own, so that samples without fonts stay the same
            font_draws = np.random.default_rng([self.seed, int(index), _FONT_STREAM]).random((len(label), 2))
        plate = self._render_plate(style, label, rng, s, render_scale, font_draws)
        alpha = self._templates[(style.template, render_scale)][2]
        image = self._place(plate, alpha, quad, out_w, out_h, rng, s)
        image = self._degrade(image, rng, s)
        row_gap = None
        if plate_type in DOUBLE_ROW_TYPES:
            row_gap = _row_gap_in_crop(style.size, quad, out_h)
        return SynthSample(Image.fromarray(image, "RGB"), label, plate_type, row_gap)

    # ---------------------------------------------------------------- rendering

    @staticmethod
    def _colour(rng: np.random.Generator, ranges: tuple[tuple[int, int, int], tuple[int, int, int]],
                jitter: float) -> np.ndarray:
        lo, hi = np.asarray(ranges[0], np.float32), np.asarray(ranges[1], np.float32)
        t = rng.random()
        col = lo + (hi - lo) * t + rng.normal(0.0, jitter, 3)
        return np.clip(col, 0, 255).astype(np.float32)

    def _build_lookup(self) -> dict[tuple[str, str, str], tuple[list[np.ndarray], str]]:
        """Resolves (char, style, preferred source) to a glyph pool and the source used."""
        lookup = {}
        styles = {cell[4] for st in self._styles.values() for cell in st.cells}
        for char in CHARSET:
            for style in styles:
                for source in _GLYPH_SOURCES:
                    found = None
                    for src in [source] + [x for x in _GLYPH_SOURCES if x != source]:
                        if src == "real" and style in _REAL_SKIP_STYLES:
                            continue
                        pool = self._glyphs.get((src, style), {}).get(char)
                        if pool:
                            found = (pool, src)
                            break
                    if found is None:  # any style that has the character
                        for (src, _), table in sorted(self._glyphs.items()):
                            if table.get(char):
                                found = (table[char], src)
                                break
                    if found is None:
                        raise FileNotFoundError(f"no glyph image for {char!r}")
                    lookup[(char, style, source)] = found
        return lookup

    @staticmethod
    def _glyph_mask(glyph: np.ndarray, src: str, cw: int, ch: int, width_u: float,
                    thresh_u: float, s: float, stretch: bool) -> np.ndarray:
        """Scales an ink crop into a float mask of size (ch, cw), centred horizontally.

        ``width_u`` and ``thresh_u`` are uniform [0, 1) draws for width and stroke jitter.
        """
        gh, gw = glyph.shape
        th = ch
        natural = th * gw / gh
        if stretch or natural > cw * 0.8:
            tw = cw
        else:
            tw = max(2, int(round(min(cw, natural * (1.0 + 0.15 * width_u)))))
        interp = cv2.INTER_AREA if gh > th else cv2.INTER_LINEAR
        m = cv2.resize(glyph, (tw, th), interpolation=interp).astype(np.float32) * (1.0 / 255.0)
        # Soft re-threshold: smooth upscaled photos and vary stroke weight.
        sigma = (th / gh) * 0.45 if src == "real" else 0.6 * th / CHAR_H
        if sigma > 0.3:
            m = cv2.GaussianBlur(m, (0, 0), sigma)
        thresh = 0.5 + (thresh_u - 0.5) * STROKE_JITTER * (0.4 + 0.6 * s)
        m -= thresh - 0.5 / SOFT_EDGE_GAIN
        m *= SOFT_EDGE_GAIN
        m = _clip_inplace(m, 0.0, 1.0)
        if tw < cw:
            full = np.zeros((ch, cw), np.float32)
            x0 = (cw - tw) // 2
            full[:, x0: x0 + tw] = m
            m = full
        return m

    def _pick_glyph(self, char: str, gstyle: str, source: str, cell_px: float, draw: np.ndarray,
                    font_draw: np.ndarray | None) -> tuple[np.ndarray, str]:
        """One character's ink crop and the source it came from.

        ``draw`` is the character's row of uniform draws (mixed source, pool index), ``font_draw``
        its row of the font stream (None without fonts), ``cell_px`` the cell height in pixels.
        """
        if font_draw is not None and font_draw[0] < P_FONT_CJK and char in self._font_glyphs:
            fonts = self._font_glyphs[char]
            return fonts[int(font_draw[1] * len(fonts))], "font"
        src = source
        if draw[0] < P_MIXED_CHAR:
            src = _GLYPH_SOURCES[int(draw[1] * len(_GLYPH_SOURCES))]
        if src == "real" and char not in ALNUM and cell_px > REAL_CJK_MAX_PX:
            # 20 px province photos turn into blobs when large: use a glyph render.
            src = "pengfei" if draw[1] < 0.5 else "huang"
        pool, used = self._lookup[(char, gstyle, src)]
        return pool[int(draw[2] * len(pool))], used

    def _render_plate(self, style: _Style, label: str, rng: np.random.Generator, s: float,
                      k: float, font_draws: np.ndarray | None = None) -> np.ndarray:
        """Renders the plate as RGBA float32 (alpha 0..255) at ``k`` pixels per mm.

        ``font_draws`` (one row of two uniform draws per character) picks font renders for
        Chinese characters when fonts were given."""
        tpl, bg_weight3, _, cur_bg = self._templates[(style.template, k)]
        if style.bg != "keep":
            new_bg = self._colour(rng, _BG_RANGES[style.bg], BG_JITTER)
            delta = tuple(float(v) for v in new_bg - cur_bg) + (0.0,)
            plate = cv2.add(cv2.multiply(bg_weight3, delta), tpl)
        else:
            gain = tuple(float(v) for v in rng.uniform(0.85, 1.05, 3)) + (1.0,)
            plate = cv2.multiply(tpl, gain)
        # Values may leave [0, 255] slightly at the template's rim; _degrade clips at the end.
        rgb = plate
        fg = self._colour(rng, _FG_RANGES[style.fg], 8.0)
        red = self._colour(rng, _FG_RANGES["red"], 8.0)

        source = _GLYPH_SOURCES[int(rng.choice(len(_GLYPH_SOURCES), p=_SOURCE_PROBS))]
        scale_h = 1.0 - rng.uniform(0.0, 0.08)
        ph, pw = plate.shape[:2]
        n = len(label)
        draws = rng.random((n, 5))
        offsets = rng.normal(0.0, CHAR_OFFSET_SIGMA * s, (n, 2))
        for i, (char, (x, y, w, h, gstyle)) in enumerate(zip(label, style.cells)):
            glyph, used = self._pick_glyph(char, gstyle, source, k * h, draws[i],
                                           None if font_draws is None else font_draws[i])
            cw = max(2, int(round(w * k)))
            ch = max(2, int(round(h * scale_h * k)))
            m = self._glyph_mask(glyph, used, cw, ch, draws[i, 3], draws[i, 4], s,
                                 stretch=(gstyle == "top"))
            x0 = int(round((x + offsets[i, 0]) * k))
            y0 = int(round((y + offsets[i, 1]) * k + (h * k - ch) / 2.0))
            x0 = min(max(x0, 0), pw - cw)
            y0 = min(max(y0, 0), ph - ch)
            col = red if i in style.red else fg
            region = rgb[y0: y0 + ch, x0: x0 + cw]
            region += m[:, :, None] * (col - region)
        if style.dot is not None:
            r = max(1.0, DOT_RADIUS * k)
            cx, cy = style.dot[0] * k, style.dot[1] * k
            x0, x1 = int(cx - r - 1), int(cx + r + 2)
            y0, y1 = int(cy - r - 1), int(cy + r + 2)
            yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
            m = _clip_inplace(r + 0.5 - np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2), 0.0, 1.0)
            region = rgb[y0:y1, x0:x1]
            region += m[:, :, None] * (fg - region)
        return plate

    # ---------------------------------------------------------------- placement

    def _background(self, w: int, h: int, rng: np.random.Generator) -> np.ndarray:
        use_patch = rng.random() < P_NOPLATE_BG and self._backgrounds
        pick = int(rng.integers(max(1, len(self._backgrounds))))
        a, b, c = rng.random(3)
        if use_patch:
            patch = self._backgrounds[pick]
            ph, pw = patch.shape[:2]
            cw = max(8, int(pw * (0.3 + 0.7 * a)))
            chh = max(4, int(ph * (0.4 + 0.6 * b)))
            x0 = int(c * (pw - cw))
            y0 = int(rng.random() * (ph - chh))
            bg = cv2.resize(patch[y0: y0 + chh, x0: x0 + cw], (w, h), interpolation=cv2.INTER_LINEAR)
            return bg.astype(np.float32)
        grey = rng.uniform(20, 200)
        base = (grey + rng.normal(0, 15, 3)).astype(np.float32)
        cell = int(rng.integers(3, 12))
        small = rng.normal(0, 15 + 35 * a, (max(2, h // cell), max(2, w // cell), 1))
        small = np.repeat(small, 3, axis=2) + rng.normal(0, 6, (small.shape[0], small.shape[1], 3))
        tex = cv2.resize(small.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        return _clip_inplace(base + tex, 0.0, 255.0)

    @staticmethod
    def _geometry(size: tuple[int, int], rng: np.random.Generator,
                  s: float) -> tuple[np.ndarray, int, int]:
        """Draws the plate's corner quad in output pixels and the output size.

        The crop imitates a detector box: the axis-aligned box of the distorted plate, with
        loose or tight (negative) margins.
        """
        pw, ph = size
        angle = math.radians(float(np.clip(rng.normal(0, ROTATION_SIGMA_DEG), -MAX_ROTATION_DEG,
                                           MAX_ROTATION_DEG)) * s)
        if rng.random() < 0.15:
            angle = math.radians(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG) * s)
        shear = rng.uniform(-MAX_SHEAR, MAX_SHEAR) * s * (1.0 if rng.random() < 0.6 else 0.3)
        fore = rng.uniform(-MAX_FORESHORTEN, MAX_FORESHORTEN) * s
        vfore = rng.uniform(-MAX_VERT_FORESHORTEN, MAX_VERT_FORESHORTEN) * s
        lo_m, hi_m = MARGIN_RANGE
        margins = BASE_MARGIN + (lo_m + (hi_m - lo_m) * rng.random(4) ** 2) * s
        if rng.random() < 0.3:  # tight crop: cut into the frame
            margins = np.minimum(margins, rng.uniform(-0.08, 0.02, 4) * s + BASE_MARGIN * (1 - s))
        aspect_j = math.exp(float(rng.normal(0, ASPECT_JITTER_SIGMA)) * s)
        lo, hi = OUT_WIDTH_RANGE
        out_w = int(round(math.exp(rng.uniform(math.log(lo), math.log(hi)))))

        hw, hh = pw / 2.0, ph / 2.0
        lh, rh = hh * (1 + fore), hh * (1 - fore)
        tw, bw = hw * (1 + vfore), hw * (1 - vfore)
        sx = shear * ph
        quad = np.array([[-tw + sx / 2, -lh], [tw + sx / 2, -rh], [bw - sx / 2, rh],
                         [-bw - sx / 2, lh]], np.float64)
        ca, sa = math.cos(angle), math.sin(angle)
        quad = quad @ np.array([[ca, sa], [-sa, ca]])
        x_min, y_min = quad.min(axis=0)
        x_max, y_max = quad.max(axis=0)
        x0 = x_min - margins[0] * ph
        x1 = x_max + margins[1] * ph
        y0 = y_min - margins[2] * ph
        y1 = y_max + margins[3] * ph
        crop_w, crop_h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
        double = ph / pw > DOUBLE_ROW_MIN_HEIGHT_RATIO
        tall = rng.uniform(1.0, DOUBLE_ROW_MAX_STRETCH)
        if double:  # real double-row crops range from 2.0 down to about 1.5 width/height
            aspect_j *= tall
        out_h = max(12, int(round(out_w * crop_h / crop_w * aspect_j)))
        if double:
            out_h = max(out_h, int(math.ceil(out_w / DOUBLE_ROW_MAX_ASPECT)))
        scale = np.array([out_w / crop_w, out_h / crop_h])
        return (quad - [x0, y0]) * scale, out_w, out_h

    def _place(self, plate: np.ndarray, alpha: np.ndarray, quad: np.ndarray, out_w: int,
               out_h: int, rng: np.random.Generator, s: float) -> np.ndarray:
        """Warps the RGB plate with its alpha onto a background; returns float32 RGB."""
        bg = self._background(out_w, out_h, rng)
        frame_u, frame_w, frame_grey = rng.random(3)
        if frame_u < P_FRAME * s:
            lo, hi = FRAME_WIDTH_RANGE
            centre = quad.mean(axis=0)
            grow = 1.0 + lo + (hi - lo) * frame_w
            outer = (quad - centre) * grow + centre
            grey = 10 + 190 * frame_grey ** 2
            cv2.fillConvexPoly(bg, np.round(outer * 4).astype(np.int32), (grey, grey, grey),
                               cv2.LINE_AA, shift=2)
        sh, sw = plate.shape[:2]
        src = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], np.float32)
        mat = cv2.getPerspectiveTransform(src, quad.astype(np.float32))
        size = (out_w, out_h)
        warped = cv2.warpPerspective(plate, mat, size, flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        a = cv2.warpPerspective(alpha, mat, size, flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return cv2.blendLinear(warped, bg, a, 1.0 - a)

    # ---------------------------------------------------------------- degradation

    def _degrade(self, img: np.ndarray, rng: np.random.Generator, s: float) -> np.ndarray:
        """Photometric degradations on a float32 RGB image; returns uint8 RGB."""
        h, w = img.shape[:2]
        u = rng.random(12)  # event draws
        # Lighting gradient.
        g0, g1, gang = rng.uniform(0.55, 1.35), rng.uniform(0.55, 1.35), rng.uniform(0, 2 * math.pi)
        if u[0] < P_GRADIENT * s:
            xs = (np.arange(w, dtype=np.float32) / w - 0.5) * math.cos(gang)
            ys = (np.arange(h, dtype=np.float32) / h - 0.5) * math.sin(gang)
            t = ys[:, None] + xs[None, :] + 0.5
            gain = 1 + ((g0 + (g1 - g0) * t) - 1) * s
            img *= gain[:, :, None]
        # Shadow: region beyond a random line, darkened with a soft edge.
        sp = rng.uniform(0, 1, 4)
        if u[1] < P_SHADOW * s:
            mask = np.zeros((h, w), np.float32)
            p1 = (int(sp[0] * w), 0)
            p2 = (int(sp[1] * w), h)
            side = w if sp[2] < 0.5 else 0
            pts = np.array([p1, (side, 0), (side, h), p2], np.int32)
            cv2.fillConvexPoly(mask, pts, 1.0)
            mask = cv2.GaussianBlur(mask, (0, 0), 1 + 3 * sp[3])
            depth = (0.25 + 0.4 * sp[3]) * s
            img *= (1 - depth * mask)[:, :, None]
        # Dirt specks.
        n_specks = int(rng.integers(2, 15))
        spk = rng.random((n_specks, 4))
        if u[2] < P_SPECKS * s:
            for sx_, sy_, sr, sc in spk:
                col = (60 + 80 * sc, 50 + 60 * sc, 40 + 40 * sc)
                radius = max(1, int(sr * h * SPECK_MAX_RADIUS))
                cv2.circle(img, (int(sx_ * w), int(sy_ * h)), radius, col, -1)
        # Colour cast, contrast, brightness, gamma.
        cast = rng.normal(1.0, 0.12, 3)
        contrast = rng.uniform(CONTRAST_RANGE[0], CONTRAST_RANGE[1])
        bright = rng.normal(0, 25)
        gamma = math.exp(rng.normal(0, 0.25))
        if u[3] < P_CAST * s:
            gain = (1 + (cast - 1) * s).astype(np.float32)
            c = 1 + (contrast - 1) * s
            mean = (np.asarray(cv2.mean(img)[:3]) * gain).astype(np.float32)
            # out = mean + (img * gain - mean) * c + bright
            img *= gain * c
            img += mean * (1 - c) + bright * s
        out = _clip_inplace(img, 0.0, 255.0).astype(np.uint8)
        if u[3] < P_CAST * s:
            lut = (255.0 * (np.arange(256) / 255.0) ** (1 + (gamma - 1) * s)).astype(np.uint8)
            out = cv2.LUT(out, lut)
        # Blur.
        sigma = rng.uniform(0.3, MAX_BLUR_SIGMA) * max(1.0, w / 250.0)
        if u[4] < P_BLUR * s:
            out = cv2.GaussianBlur(out, (0, 0), sigma * s + 0.2)
        mlen = int(rng.integers(3, MAX_MOTION_LEN + 1))
        mang = rng.uniform(0, 180)
        if u[5] < P_MOTION * s:
            k = np.zeros((mlen, mlen), np.float32)
            k[mlen // 2, :] = 1.0
            rot = cv2.getRotationMatrix2D(((mlen - 1) / 2, (mlen - 1) / 2), mang, 1.0)
            k = cv2.warpAffine(k, rot, (mlen, mlen))
            if k.sum() > 0:
                out = cv2.filter2D(out, -1, k / k.sum())
        # Low resolution.
        lr = rng.uniform(*LOWRES_RANGE)
        lr_interp = cv2.INTER_NEAREST if rng.random() < 0.3 else cv2.INTER_LINEAR
        if u[6] < P_LOWRES * s:
            f = 1 - (1 - lr) * s
            small = cv2.resize(out, (max(8, int(w * f)), max(4, int(h * f))),
                               interpolation=cv2.INTER_AREA)
            out = cv2.resize(small, (w, h), interpolation=lr_interp)
        # Noise (OpenCV's generator, seeded per sample, is much faster than numpy's normal).
        nsig = rng.uniform(2, MAX_NOISE_SIGMA)
        noise_seed = int(rng.integers(2**31))
        if u[7] < P_NOISE * s:
            cv2.setRNGSeed(noise_seed)
            noise = np.empty(out.shape, np.int16)
            cv2.randn(noise, 0, nsig * s)
            out = cv2.add(out, noise, dtype=cv2.CV_8U)
        # JPEG.
        q = int(rng.uniform(*JPEG_QUALITY_RANGE))
        if u[8] < P_JPEG * s:
            q = int(round(100 - (100 - q) * s))
            ok, buf = cv2.imencode(".jpg", out[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
            if ok:
                out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]
        return np.ascontiguousarray(out)


def _clip_inplace(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Clips a float array in place (cheaper than ``np.clip`` on small arrays)."""
    np.maximum(x, lo, out=x)
    np.minimum(x, hi, out=x)
    return x


def label_matches(plate_type: str, label: str) -> bool:
    """Whether ``label`` is in the format of ``plate_type``.

    Args:
        plate_type: One of ``PLATE_TYPES``.
        label: Plate string.

    Returns:
        True if the label fully matches ``LABEL_PATTERNS[plate_type]``.
    """
    return re.fullmatch(LABEL_PATTERNS[plate_type], label) is not None
