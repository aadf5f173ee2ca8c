import numpy as np
import pytest

from plate_ocr.geometry import COMPACT_GEOMETRY, UPSTREAM_GEOMETRY, ChunkGeometry


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


def test_compact_geometry_stretches_and_splits_two_row_plates():
    single = np.zeros((40, 140, 3), np.uint8)
    assert COMPACT_GEOMETRY.fit(single).shape == (32, 160, 3)
    assert len(COMPACT_GEOMETRY.candidates(single)) == 1
    double = np.zeros((140, 220, 3), np.uint8)
    double[:42] = 255  # top row bright (above the bottom strip), bottom row dark
    plain, canvas = COMPACT_GEOMETRY.candidates(double)
    np.testing.assert_array_equal(plain, COMPACT_GEOMETRY.fit(double))
    assert len(UPSTREAM_GEOMETRY.candidates(double)) == 1
    # the top row strip comes first (left), the bottom row strip after it
    assert canvas[:, :20].mean() > 150 and canvas[:, -40:].mean() < 10


def test_do_chunking_false_and_bad_values():
    g = ChunkGeometry.from_dict({"img_height": 32, "img_width": 800, "do_chunking": False})
    assert g.num_chunks == 1 and g.chunk_width == 800
    with pytest.raises(ValueError, match="img_height"):
        ChunkGeometry(img_height=48)
    with pytest.raises(ValueError, match="img_width"):
        ChunkGeometry(img_width=805)
    with pytest.raises(ValueError, match="unknown key"):
        ChunkGeometry.from_dict({"img_hieght": 32})
