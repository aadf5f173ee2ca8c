"""The console script end to end, in a subprocess like a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .support import SYNTH_ASSETS, real_rows


def run(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "plate_ocr.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)


def test_read_skips_bad_files_and_reads_the_rest(tiny_model_dir, tmp_path):
    paths = [p for p, _ in real_rows("dev", limit=3)]
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really")
    out = run("read", "--model", tiny_model_dir, paths[0], bad, tmp_path / "missing.png", paths[1], "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["text"] is None for r in rows] == [False, True, True, False]
    assert "broken.jpg" in out.stderr and "missing.png" in out.stderr and "2 of 4" in out.stderr


def test_read_expands_folders(tiny_model_dir, tmp_path):
    import shutil

    folder = tmp_path / "archive" / "cam1"
    folder.mkdir(parents=True)
    for i, (path, _) in enumerate(real_rows("dev", limit=3)):
        shutil.copy(path, folder / f"{i}.jpg")
    (folder / "notes.txt").write_text("not an image")
    out = run("read", "--model", tiny_model_dir, tmp_path / "archive")
    assert out.returncode == 0, out.stderr
    assert [line.split("\t")[0].rsplit("/", 1)[1] for line in out.stdout.splitlines()] == ["0.jpg", "1.jpg", "2.jpg"]


def test_read_engines_agree_and_an_unknown_one_is_refused(tiny_model_dir):
    from plate_ocr.cli import ENGINE_CHOICES
    from plate_ocr.engines import ENGINES

    assert ENGINE_CHOICES == ENGINES
    paths = [p for p, _ in real_rows("dev", limit=2)]
    outs = [run("read", "--model", tiny_model_dir, *paths, "--engine", engine) for engine in ("eager", "auto")]
    assert all(o.returncode == 0 for o in outs), [o.stderr for o in outs]
    assert outs[0].stdout == outs[1].stdout and len(outs[0].stdout.splitlines()) == 2
    bad = run("read", "--model", tiny_model_dir, *paths, "--engine", "tensorrt")
    assert bad.returncode == 2 and "tensorrt" in bad.stderr


def test_read_decoder_option_overrides_the_directory(tiny_model_dir):
    from plate_ocr.formats import PlateFormats
    from plate_ocr.vocab import CTCVocab

    paths = [p for p, _ in real_rows("dev", limit=3)]
    outs = {d: run("read", "--model", tiny_model_dir, *paths, "--decoder", d)
            for d in ("auto", "greedy", "plate-format")}
    assert all(o.returncode == 0 for o in outs.values()), [o.stderr for o in outs.values()]
    assert outs["auto"].stdout == outs["greedy"].stdout  # the tiny directory names no decoder
    formats = PlateFormats(CTCVocab.from_file(tiny_model_dir / "vocab.txt"))
    texts = [line.split("\t")[1] for line in outs["plate-format"].stdout.splitlines()]
    assert len(texts) == 3 and all(formats.matches(t) for t in texts)  # random weights, yet plates


def test_read_fails_when_nothing_could_be_read(tiny_model_dir, tmp_path):
    out = run("read", "--model", tiny_model_dir, tmp_path / "missing.png")
    assert out.returncode == 1 and "no such file" in out.stderr


def test_eval_prints_json_with_metrics(tiny_model_dir, tmp_path):
    tsv = tmp_path / "set.tsv"
    rows = real_rows("dev", limit=4)
    tsv.write_text("path\tlabel\n" + "".join(f"{p}\t{l}\n" for p, l in rows), encoding="utf-8")
    per_image = tmp_path / "per_image.jsonl"
    out = run("eval", tsv, "--model", tiny_model_dir, "--json", "--per-image", per_image)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["count"] == 4 and 0 <= summary["exact_match"] <= 1
    assert len(per_image.read_text(encoding="utf-8").splitlines()) == 4


def test_bad_model_dir_is_a_clear_error(tmp_path):
    out = run("read", "--model", tmp_path, "x.jpg")
    assert out.returncode == 2
    assert "no such weights file" in out.stderr or "configuration.json" in out.stderr


@pytest.mark.slow
def test_convert_upstream_console_script(upstream_dir, tmp_path):
    out = run("convert-upstream", upstream_dir, tmp_path / "plate")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "plate" / "pytorch_model.pt").exists()


def test_train_network_sizes_are_parsed_and_checked(capsys):
    from plate_ocr.cli import build_parser

    args = build_parser().parse_args(["train", "--out", "x", "--depths", "2,2,5,2", "--blocks", "3"])
    assert args.depths == (2, 2, 5, 2) and args.blocks == 3
    for bad in ("2,2,5", "2,two,5,2"):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["train", "--out", "x", "--depths", bad])
        assert "4 comma-separated integers" in capsys.readouterr().err


def test_synth_names_a_font_that_cannot_draw_the_plates(tmp_path):
    if not SYNTH_ASSETS.is_dir():
        pytest.skip("synthesis assets not present")
    missing = run("synth", "--assets", SYNTH_ASSETS, "--out", tmp_path / "a", "--count", 2,
                  "--cjk-font", tmp_path / "none.ttf")
    assert missing.returncode == 2 and "font not found" in missing.stderr and "none.ttf" in missing.stderr
    (tmp_path / "bad.ttf").write_bytes(b"\0" * 64)
    bad = run("synth", "--assets", SYNTH_ASSETS, "--out", tmp_path / "b", "--count", 2,
              "--cjk-font", tmp_path / "bad.ttf")
    assert bad.returncode == 2 and "bad.ttf: cannot be loaded" in bad.stderr
