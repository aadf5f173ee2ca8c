import numpy as np
import pytest

from dataclasses import replace

from plate_ocr.geometry import (COMPACT_GEOMETRY, ROW_GAP_SEARCH, TOP_ROW_SHARE, UPSTREAM_GEOMETRY, ChunkGeometry,
                                find_row_gap, find_row_slope, level_rows, split_rows)


def test_upstream_geometry_matches_modelscope():
    g = UPSTREAM_GEOMETRY
    assert g.chunk_starts == (0, 252, 504)
    assert g.token_spans == ((0, 69), (6, 69), (6, 75))
    assert g.sequence_length == 201


def test_keep_aspect_resize_truncates_and_pads_black():
    image = np.full((50, 160, 3), 200, np.uint8)  # 32 * 160 / 50 = 102.4 -> 102
    canvas = UPSTREAM_GEOMETRY.fit(image)
    assert canvas.shape == (32, 804, 3)
    assert (canvas[:, :102] == 200).all() and not canvas[:, 102:].any()


def test_zero_width_resize_keeps_one_column():
    canvas = UPSTREAM_GEOMETRY.fit(np.full((1000, 10, 3), 9, np.uint8))  # upstream: width 0, cv2 error
    assert (canvas[:, 0] == 9).all() and not canvas[:, 1:].any()


def test_wide_images_are_squashed_to_the_canvas():
    assert (UPSTREAM_GEOMETRY.fit(np.full((10, 5000, 3), 1, np.uint8)) == 1).all()


def two_row_plate(gap: float, height: int = 140, width: int = 220) -> np.ndarray:
    """A grey plate with vertical "strokes": two in the middle of the top row, five across the
    bottom row; the empty gap between the rows is centred at ``gap`` of the height."""
    image = np.full((height, width, 3), 90, np.uint8)
    y = round(gap * height)
    top, bottom = (max(0, y - 45), y - 10), (y + 10, min(height, y + 70))
    for x in (80, 120):  # top row: two characters in the middle half
        image[top[0]:top[1], x:x + 20:4] = 250
    for x in range(10, width - 30, 42):
        image[bottom[0]:bottom[1], x:x + 28:4] = 10
    return image


@pytest.mark.parametrize("gap", [0.3, 0.4, 0.5, 0.6])
def test_row_gap_is_found_between_the_rows(gap):
    assert find_row_gap(two_row_plate(gap)) == pytest.approx(gap, abs=0.04)


def test_tiny_images_get_a_middle_gap_rather_than_an_error():
    for shape in [(1, 1, 3), (2, 50, 3), (50, 2, 3)]:
        assert ROW_GAP_SEARCH[0] <= find_row_gap(np.zeros(shape, np.uint8)) <= ROW_GAP_SEARCH[1]


def test_compact_geometry_stretches_and_splits_two_row_plates():
    single = np.zeros((40, 140, 3), np.uint8)
    assert COMPACT_GEOMETRY.fit(single).shape == (32, 160, 3)
    assert len(COMPACT_GEOMETRY.candidates(single)) == 1
    double = two_row_plate(0.45)
    plain, canvas = COMPACT_GEOMETRY.candidates(double)
    np.testing.assert_array_equal(plain, COMPACT_GEOMETRY.fit(double))
    assert len(UPSTREAM_GEOMETRY.candidates(double)) == 1
    # the top row (bright strokes) fills the geometry's top-row share of the canvas, the bottom
    # row (dark strokes) the rest
    split = round(160 * COMPACT_GEOMETRY.top_row_share)
    assert canvas.shape == (32, 160, 3)
    assert canvas[:, :split].max() > 200 and canvas[:, :split].min() > 40
    assert canvas[:, split:].min() < 40 and canvas[:, split:].max() < 200


def test_a_level_plate_keeps_its_rows():
    plate = two_row_plate(0.45)
    assert find_row_slope(plate) == 0.0
    assert level_rows(plate, 0.0) is plate
    assert find_row_slope(np.zeros((3, 3, 3), np.uint8)) == 0.0


@pytest.mark.parametrize("slope", [-0.2, 0.1, 0.25])
def test_a_tilted_plate_is_levelled_before_its_rows_are_split(slope):
    level = two_row_plate(0.45)
    tilted = level_rows(level, -slope)  # the inverse shear tilts the rows by `slope`
    assert tilted.shape == level.shape
    assert find_row_slope(tilted) == pytest.approx(slope, abs=0.03)
    # across the middle of the plate the tilt moves a row by more than the strips' overlap,
    # so a level cut would mix the rows; levelled first, each strip holds only its own row
    canvas = COMPACT_GEOMETRY.fit(tilted, two_rows=True)
    split = round(160 * COMPACT_GEOMETRY.top_row_share)
    assert canvas[:, :split].max() > 200 and canvas[:, :split].min() > 40
    assert canvas[:, split:].min() < 40 and canvas[:, split:].max() < 200


def test_split_rows_without_a_width_keeps_the_bottom_row_aspect():
    strip = split_rows(two_row_plate(0.45), 32)
    assert strip.shape[0] == 32
    # bottom strip: 220 wide, about 0.45 + ROW_OVERLAP of 140 high kept -> aspect about 2.8
    assert 32 * 2.4 / (1 - TOP_ROW_SHARE) < strip.shape[1] < 32 * 3.4 / (1 - TOP_ROW_SHARE)


def test_do_chunking_false_and_bad_values():
    g = ChunkGeometry.from_dict({"img_height": 32, "img_width": 800, "do_chunking": False})
    assert g.num_chunks == 1 and g.chunk_width == 800
    with pytest.raises(ValueError, match="img_height"):
        ChunkGeometry(img_height=48)
    with pytest.raises(ValueError, match="img_width"):
        ChunkGeometry(img_width=805)
    with pytest.raises(ValueError, match="unknown key"):
        ChunkGeometry.from_dict({"img_hieght": 32})


@pytest.mark.parametrize("share", [0.3, 0.45, 0.6])
def test_the_top_row_gets_the_geometrys_share_of_the_canvas(share):
    canvas = replace(COMPACT_GEOMETRY, top_row_share=share).fit(two_row_plate(0.45), two_rows=True)
    split = round(160 * share)
    # the top row's strokes (x 80-136 of 220, 33 px trimmed per side) span about 0.3-0.67 of
    # its strip, so their extent scales with the share; no bright stroke lies past the strip
    bright = np.flatnonzero(canvas.max(axis=(0, 2)) > 120)  # background 90; thin strokes blur
    assert 0.2 * split < bright.min() < 0.4 * split and 0.6 * split < bright.max() < 0.75 * split
    assert canvas[:, :split].min() > 40 and canvas[:, split:].max() < 200


def test_top_row_share_is_kept_in_the_config_and_older_dirs_read_as_trained():
    assert ChunkGeometry.from_dict(COMPACT_GEOMETRY.to_dict()) == COMPACT_GEOMETRY
    # a model directory written before the key existed was trained with TOP_ROW_SHARE
    older = {k: v for k, v in COMPACT_GEOMETRY.to_dict().items() if k != "top_row_share"}
    assert ChunkGeometry.from_dict(older).top_row_share == TOP_ROW_SHARE
    with pytest.raises(ValueError, match="top_row_share"):
        ChunkGeometry(top_row_share=0.9)
