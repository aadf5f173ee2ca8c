"""Every kind of input, and every kind of bad input getting an error that names it."""

from __future__ import annotations

import http.server
import io
import threading

import numpy as np
import pytest
from PIL import Image

from plate_ocr import imageio
from plate_ocr.imageio import PlateInputError, load_rgb


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def plate_png(tmp_path):
    rng = np.random.default_rng(1)
    array = rng.integers(0, 256, (40, 130, 3), dtype=np.uint8)
    path = tmp_path / "京A12345 车牌.png"  # non-ASCII path
    Image.fromarray(array).save(path)
    return path, array


def test_path_str_pathlike_bytes_pil_and_array_give_the_same_pixels(plate_png):
    path, array = plate_png
    for item in (str(path), path, path.read_bytes(), Image.open(path), array):
        out = load_rgb(item)
        assert out.dtype == np.uint8 and out.shape == (40, 130, 3)
        np.testing.assert_array_equal(out, array)


def test_gray_rgba_and_16_bit_images(tmp_path):
    gray = np.arange(40 * 120, dtype=np.uint32).reshape(40, 120) % 256
    out = load_rgb(gray.astype(np.uint8))
    assert out.shape == (40, 120, 3) and (out[..., 0] == out[..., 2]).all()
    rgba = np.zeros((10, 30, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 7
    out = load_rgb(rgba)
    assert out.shape == (10, 30, 3) and (out[..., 0] == 200).all()
    assert load_rgb(Image.fromarray(rgba)).shape == (10, 30, 3)
    sixteen = np.full((10, 30), 65535, np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(sixteen).save(path)
    assert (load_rgb(path) == 255).all()
    assert (load_rgb(sixteen) == 255).all()
    assert (load_rgb(np.full((4, 9, 3), 0.5, np.float32)) == 128).all()  # [0, 1] floats scale by 255


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (60, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees
    path = tmp_path / "rot.jpg"
    image.save(path, exif=exif.tobytes())
    assert load_rgb(path).shape == (60, 20, 3)


def write(path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("make, message", [
    (lambda p: str(p / "missing.jpg"), "no such file"),
    (lambda p: write(p / "empty.jpg", b""), "empty.jpg.*empty file"),
    (lambda p: write(p / "text.jpg", b"not an image"), "text.jpg.*not an image"),
    (lambda p: str(p), "is a directory"),
    (lambda p: b"", "empty file"),
    (lambda p: b"\x89PNG\r\n\x1a\n garbage", "not an image|cannot decode"),
    (lambda p: np.zeros((0, 10, 3), np.uint8), "zero size"),
    (lambda p: np.zeros((10, 10, 2), np.uint8), "1, 3 or 4 channels"),
    (lambda p: np.zeros((2, 10, 10, 3), np.uint8), r"\(H, W\)"),
    (lambda p: np.full((4, 4), np.nan), "NaN"),
    (lambda p: np.zeros((4, 4), np.complex64), "dtype"),
    (lambda p: 42, "unsupported input type int"),
    (lambda p: None, "unsupported input type NoneType"),
])
def test_bad_inputs_get_a_clear_error(tmp_path, make, message):
    item = make(tmp_path)
    with pytest.raises(PlateInputError, match=message):
        load_rgb(item)


def test_truncated_file_is_an_error_not_a_partial_image(tmp_path, plate_png):
    path, _ = plate_png
    data = png_bytes(Image.open(path))
    cut = tmp_path / "cut.png"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(PlateInputError, match="cut.png.*truncated or corrupt"):
        load_rgb(cut)


def test_absurdly_large_image_is_refused_before_decoding(tmp_path, monkeypatch):
    monkeypatch.setattr(imageio, "MAX_PIXELS", 1000)
    path = tmp_path / "big.png"
    Image.new("L", (100, 100)).save(path)
    with pytest.raises(PlateInputError, match="100x100 pixels exceeds"):
        load_rgb(path)
    with pytest.raises(PlateInputError, match="exceeds"):
        load_rgb(np.zeros((100, 100), np.uint8))


def test_decompression_bomb_header_is_refused(tmp_path):
    # A PNG header claiming 100000 x 100000 pixels: refused from the header alone.
    image = Image.new("1", (100_000, 1000))
    path = tmp_path / "bomb.png"
    image.save(path)
    with pytest.raises(PlateInputError, match="exceeds"):
        load_rgb(path)


class _Handler(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):  # noqa: N802
        if self.path == "/plate.png":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(self.body)
        else:
            self.send_error(404)

    def log_message(self, *args):
        pass


def test_http_url_on_loopback(plate_png):
    path, array = plate_png
    _Handler.body = path.read_bytes()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        np.testing.assert_array_equal(load_rgb(url + "/plate.png"), array)
        with pytest.raises(PlateInputError, match="404.*|download failed"):
            load_rgb(url + "/nothing.png")
    finally:
        server.shutdown()
