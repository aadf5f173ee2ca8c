import numpy as np
import pytest
from PIL import Image

from plate_ocr.training.data import (Sample, TrainingMix, augment_crop, plate_type_of, read_folder, read_lmdb,
                                     read_source, read_tsv, write_lmdb)

from ..support import real_rows


def make_images(tmp_path, labels):
    rng = np.random.default_rng(0)
    paths = []
    for i, label in enumerate(labels):
        path = tmp_path / f"{label}_{i}.png"
        Image.fromarray(rng.integers(0, 256, (30, 100, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def test_lmdb_round_trip_keeps_labels_and_pixels(tmp_path):
    pytest.importorskip("lmdb")
    labels = ["京A12345", "粤ZF023港", "沪AD12345"]
    paths = make_images(tmp_path, labels)
    samples = [Sample(str(p), l, str(p)) for p, l in zip(paths, labels)]
    samples.append(Sample(np.zeros((20, 60, 3), np.uint8), "使123456", "array"))
    assert write_lmdb(tmp_path / "set", samples) == 4
    back = read_lmdb(tmp_path / "set")
    assert [s.label for s in back] == labels + ["使123456"]
    np.testing.assert_array_equal(back[0].rgb(), np.asarray(Image.open(paths[0]).convert("RGB")))
    assert back[3].rgb().shape == (20, 60, 3)
    assert [s.label for s in read_source(str(tmp_path / "set"))] == [s.label for s in back]


def test_lmdb_matches_modelscope_key_layout(tmp_path):
    lmdb = pytest.importorskip("lmdb")
    paths = make_images(tmp_path, ["京A12345"])
    write_lmdb(tmp_path / "set", [Sample(str(paths[0]), "京A12345", "x")])
    env = lmdb.open(str(tmp_path / "set"), readonly=True, lock=False)
    with env.begin() as txn:
        assert txn.get(b"num-samples") == b"1"
        assert txn.get(b"label-000000001").decode("utf-8") == "京A12345"
        assert txn.get(b"image-000000001") == paths[0].read_bytes()


def test_tsv_and_folder_sources(tmp_path):
    paths = make_images(tmp_path, ["京A12345", "沪B00001"])
    tsv = tmp_path / "list.tsv"
    tsv.write_text("path\tlabel\tsource\n" + "".join(f"{p.name}\t{p.stem.split('_')[0]}\tx\n" for p in paths),
                   encoding="utf-8")
    assert [s.label for s in read_tsv(tsv)] == ["京A12345", "沪B00001"]
    assert [s.plate_type for s in read_tsv(tsv)] == ["standard", "standard"]
    typed = tmp_path / "typed.tsv"
    typed.write_text(f"path\tlabel\ttype\n{paths[0].name}\t京A12345\tyellow_double\n", encoding="utf-8")
    assert read_tsv(typed)[0].plate_type == "yellow_double"
    assert [s.label for s in read_folder(tmp_path)] == ["京A12345", "沪B00001"]
    bad = tmp_path / "bad.tsv"
    bad.write_text("only-a-path\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.tsv:1"):
        read_tsv(bad)


@pytest.mark.parametrize("label, kind", [("京A12345", "standard"), ("京AD12345", "new_energy"), ("京A1234警", "police"),
                                         ("粤Z1234港", "hk_macao"), ("使123456", "embassy"), ("VA12345", "military"),
                                         ("京A1234学", "coach"), ("京A1234挂", "trailer"), ("沪A1234领", "consulate")])
def test_plate_type_of(label, kind):
    assert plate_type_of(label) == kind


def test_training_mix_is_deterministic_and_augments():
    rows = real_rows("train", limit=20)
    real = [Sample(p, l, p) for p, l in rows]
    mix = TrainingMix(real, None, 1.0, seed=3, ramp=100)
    a, la, two_a = mix.item(7)
    b, lb, two_b = mix.item(7)
    assert la == lb and np.array_equal(a, b) and two_a is two_b is False
    assert mix.strength(0) < mix.strength(50) < mix.strength(100) == 1.0
    image = real[0].rgb()
    out = augment_crop(image, np.random.default_rng(0), 1.0)
    assert out.shape == image.shape and out.dtype == np.uint8 and not np.array_equal(out, image)


def test_gray_fraction_greys_some_samples_and_leaves_the_rest_alone():
    rows = real_rows("train", limit=20)
    real = [Sample(p, l, p) for p, l in rows]
    plain = TrainingMix(real, None, 1.0, seed=3, ramp=100)
    mixed = TrainingMix(real, None, 1.0, seed=3, ramp=100, gray_fraction=0.5)
    grey = 0
    for i in range(40):
        (a, la, _), (b, lb, _) = plain.item(i), mixed.item(i)
        assert la == lb
        if np.array_equal(a, b):
            continue
        # a greyed sample is the plain one without its colour
        assert np.array_equal(b[..., 0], b[..., 1]) and np.array_equal(b[..., 1], b[..., 2])
        luma = a @ np.array([0.299, 0.587, 0.114])
        assert np.abs(b[..., 0] - luma).max() <= 1
        grey += 1
    assert 10 <= grey <= 30
