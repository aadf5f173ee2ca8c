"""Tests for the synthetic plate generator."""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import numpy as np
import pytest

from plate_ocr.training.synth import (
    CHARSET,
    CJK_CHARS,
    DOUBLE_ROW_TYPES,
    LABEL_PATTERNS,
    MAX_PROVINCE_INK,
    PLATE_TYPES,
    PROVINCES,
    PlateSynthesizer,
    random_label,
    render_font_glyphs,
)

VOCAB = (
    "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
    "学警挂港澳使领"
    "0123456789"
    "ABCDEFGHJKLMNPQRSTUVWXYZ"
)


def _assets_dir() -> Path:
    shared = os.environ.get("PLATE_OCR_SHARED")
    base = Path(shared) if shared else Path(__file__).resolve().parents[2].parent / "shared"
    return base / "data/plates/synth"


ASSETS = _assets_dir()
needs_assets = pytest.mark.skipif(not ASSETS.is_dir(), reason=f"assets not found at {ASSETS}")


@pytest.fixture(scope="module")
def synth() -> PlateSynthesizer:
    return PlateSynthesizer(ASSETS, seed=7)


def test_charset_within_vocab() -> None:
    assert set(CHARSET) <= set(VOCAB)
    assert len(set(CHARSET)) == len(CHARSET)
    assert "I" not in CHARSET and "O" not in CHARSET


def test_types_consistent() -> None:
    assert set(LABEL_PATTERNS) == set(PLATE_TYPES)
    assert DOUBLE_ROW_TYPES <= set(PLATE_TYPES)
    assert len(set(PLATE_TYPES)) == len(PLATE_TYPES)


@pytest.mark.parametrize("plate_type", PLATE_TYPES)
def test_random_label_format(plate_type: str) -> None:
    rng = np.random.default_rng(123)
    for _ in range(300):
        label = random_label(plate_type, rng)
        assert re.fullmatch(LABEL_PATTERNS[plate_type], label), (plate_type, label)
        assert set(label) <= set(CHARSET)


def test_random_label_has_repeats_and_rare_provinces() -> None:
    rng = np.random.default_rng(0)
    labels = [random_label("blue", rng) for _ in range(2000)]
    repeats = sum(any(a == b for a, b in zip(lab, lab[1:])) for lab in labels)
    assert repeats > 0.2 * len(labels)
    firsts = {lab[0] for lab in labels}
    assert {"藏", "琼", "宁", "青"} <= firsts


def test_random_label_rejects_unknown_type() -> None:
    with pytest.raises(ValueError):
        random_label("purple", np.random.default_rng(0))


@needs_assets
def test_samples_valid(synth: PlateSynthesizer) -> None:
    seen = set()
    for i in range(300):
        sample = synth.sample(i, strength=float(i % 3) / 2)
        seen.add(sample.plate_type)
        assert re.fullmatch(LABEL_PATTERNS[sample.plate_type], sample.label)
        assert set(sample.label) <= set(CHARSET)
        img = sample.image
        assert img.mode == "RGB"
        w, h = img.size
        assert 60 <= w <= 600 and 12 <= h <= 400, img.size
        if sample.plate_type in DOUBLE_ROW_TYPES:
            assert w / h < 2.2, (sample.plate_type, img.size)
        else:
            assert w > h, (sample.plate_type, img.size)
    assert seen == set(PLATE_TYPES)


@needs_assets
def test_deterministic(synth: PlateSynthesizer) -> None:
    other = PlateSynthesizer(ASSETS, seed=7)
    for i in (0, 5, 99):
        a, b = synth.sample(i, 0.8), other.sample(i, 0.8)
        assert a.label == b.label and a.plate_type == b.plate_type
        assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
    a, b = synth.sample(1, 0.8), synth.sample(2, 0.8)
    assert a.label != b.label or not np.array_equal(np.asarray(a.image), np.asarray(b.image))


@needs_assets
def test_province_photos_that_are_solid_blobs_are_left_out(synth: PlateSynthesizer) -> None:
    photos = synth._glyphs[("real", "single")]
    inks = [float((g > 127).mean()) for char in PROVINCES for g in photos.get(char, [])]
    assert len(inks) > 3000  # the filter keeps nearly all of EasyPR's 3,249 province photos
    assert max(inks) <= MAX_PROVINCE_INK
    # digits and letters are not filtered: a cropped "1" is almost all ink and stays
    assert max((g > 127).mean() for g in photos["1"]) > MAX_PROVINCE_INK


@needs_assets
def test_picklable(synth: PlateSynthesizer) -> None:
    clone = pickle.loads(pickle.dumps(synth))
    a, b = synth.sample(3, 1.0), clone.sample(3, 1.0)
    assert np.array_equal(np.asarray(a.image), np.asarray(b.image))


@needs_assets
def test_type_weights_restrict_types() -> None:
    synth = PlateSynthesizer(ASSETS, seed=1, type_weights={"green_car": 1.0})
    assert {synth.sample(i).plate_type for i in range(20)} == {"green_car"}
    with pytest.raises(ValueError):
        PlateSynthesizer(ASSETS, type_weights={"purple": 1.0})


@needs_assets
def test_strength_zero_is_clean(synth: PlateSynthesizer) -> None:
    for i in range(40):
        clean = synth.sample(i, strength=0.0)
        arr = np.asarray(clean.image).astype(np.float32)
        h, w = arr.shape[:2]
        # Centred and upright: the plate fills nearly the whole crop with even margins, so the
        # centre band is plate, and the image is sharp (strong horizontal gradients).
        aspect = w / h
        if clean.plate_type in DOUBLE_ROW_TYPES:
            assert 1.45 < aspect < 2.2
        else:
            assert 2.7 < aspect < 3.7
        grad = np.abs(np.diff(arr.mean(axis=2), axis=1))
        assert grad.max() > 100
        # No sensor noise: a horizontal gradient of flat background rows is mostly zero.
        assert np.median(grad) < 4.0


@needs_assets
def test_two_row_samples_know_their_row_gap_and_the_finder_finds_it() -> None:
    from plate_ocr.geometry import ROW_OVERLAP, find_row_gap

    synth = PlateSynthesizer(ASSETS, seed=11, type_weights={t: 1.0 for t in DOUBLE_ROW_TYPES})
    errors = []
    for i in range(60):
        sample = synth.sample(i, 0.5)
        assert sample.plate_type in DOUBLE_ROW_TYPES and 0.2 < sample.row_gap < 0.7
        errors.append(abs(find_row_gap(np.asarray(sample.image)) - sample.row_gap))
    # the strips overlap by ROW_OVERLAP around the gap found, so within it both rows stay whole
    assert np.mean(np.asarray(errors) <= ROW_OVERLAP) >= 0.9
    single = PlateSynthesizer(ASSETS, seed=11, type_weights={"blue": 1.0}).sample(0)
    assert single.row_gap is None


def _write_font(path: Path, chars: str) -> Path:
    """A TrueType font whose glyph for the k-th of ``chars`` is a top bar over vertical bars
    spelling k in binary, and whose missing-glyph drawing is a hollow box."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    def rect(pen, x0, y0, x1, y1):  # clockwise: an outer contour in TrueType
        pen.moveTo((x0, y0))
        pen.lineTo((x0, y1))
        pen.lineTo((x1, y1))
        pen.lineTo((x1, y0))
        pen.closePath()

    names = [".notdef"] + [f"uni{ord(c):04X}" for c in chars]
    glyphs = {}
    for k, name in enumerate(names):
        pen = TTGlyphPen(None)
        if k == 0:
            rect(pen, 100, 0, 900, 60)
            rect(pen, 100, 740, 900, 800)
            rect(pen, 100, 60, 160, 740)
            rect(pen, 840, 60, 900, 740)
        else:
            rect(pen, 80, 700, 920, 800)
            for bit in range(6):
                if k >> bit & 1:
                    rect(pen, 100 + 135 * bit, 0, 190 + 135 * bit, 650)
        glyphs[name] = pen.glyph()
    fb = FontBuilder(1000, isTTF=True)
    fb.setupGlyphOrder(names)
    fb.setupCharacterMap({ord(c): n for c, n in zip(chars, names[1:])})
    fb.setupGlyf(glyphs)
    fb.setupHorizontalMetrics({n: (1000, 0) for n in names})
    fb.setupHorizontalHeader(ascent=880, descent=-120)
    fb.setupNameTable({"familyName": "PlateTest", "styleName": "Regular"})
    fb.setupOS2(sTypoAscender=880, sTypoDescender=-120, usWinAscent=880, usWinDescent=120)
    fb.setupPost()
    fb.save(str(path))
    return path


@pytest.fixture(scope="module")
def cjk_font(tmp_path_factory) -> Path:
    pytest.importorskip("fontTools")
    return _write_font(tmp_path_factory.mktemp("font") / "plate_test.ttf", CJK_CHARS)


def test_font_glyphs_are_rendered_per_character(cjk_font: Path) -> None:
    glyphs = render_font_glyphs(cjk_font)
    assert set(glyphs) == set(CJK_CHARS)
    # every character has its own drawing: distinct bar patterns give distinct masks
    bars = {(g[g.shape[0] // 2:] > 127).any(axis=0).tobytes() for g in glyphs.values()}
    assert len(bars) == len(CJK_CHARS)


def test_a_font_without_a_plate_character_is_refused_by_name(tmp_path: Path) -> None:
    pytest.importorskip("fontTools")
    font = _write_font(tmp_path / "partial.ttf", CJK_CHARS.replace("赣", ""))
    with pytest.raises(ValueError, match=r"partial\.ttf does not draw 赣$"):
        render_font_glyphs(font)
    with pytest.raises(FileNotFoundError, match="nowhere.ttf"):
        render_font_glyphs(tmp_path / "nowhere.ttf")
    (tmp_path / "junk.ttf").write_bytes(b"not a font")
    with pytest.raises(ValueError, match="junk.ttf: cannot be loaded"):
        render_font_glyphs(tmp_path / "junk.ttf")


@needs_assets
def test_fonts_draw_some_chinese_characters_and_leave_the_rest_of_a_sample_alone(
        synth: PlateSynthesizer, cjk_font: Path) -> None:
    with_font = PlateSynthesizer(ASSETS, seed=7, cjk_fonts=[cjk_font])
    changed = 0
    for i in range(40):
        a, b = synth.sample(i, 0.0), with_font.sample(i, 0.0)
        # the font choice has a random stream of its own: label, type and crop size stay
        assert (a.label, a.plate_type, a.image.size) == (b.label, b.plate_type, b.image.size)
        changed += not np.array_equal(np.asarray(a.image), np.asarray(b.image))
    # about a third of Chinese characters come from the font; all but army plates carry one
    assert 5 <= changed <= 30
    again = pickle.loads(pickle.dumps(with_font))
    assert again.cjk_fonts == (str(cjk_font),)
    assert np.array_equal(np.asarray(again.sample(3, 1.0).image), np.asarray(with_font.sample(3, 1.0).image))
