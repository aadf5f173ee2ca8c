"""``plate-ocr``: read plates, convert upstream weights, export a hub directory, train, evaluate,
synthesise data sets and write LMDB sets.

Training, evaluation and synthesis import their modules lazily, so ``plate-ocr read`` starts fast
and needs no training extra.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Sequence

logger = logging.getLogger("plate_ocr")

REPO_ROOT = Path(__file__).resolve().parents[1]


def default_model_dir() -> str | None:
    """``$PLATE_OCR_MODEL``, else the repository root when the package runs from a checkout."""
    env = os.environ.get("PLATE_OCR_MODEL")
    if env:
        return env
    if (REPO_ROOT / "configuration.json").is_file() and (REPO_ROOT / "pytorch_model.pt").is_file():
        return str(REPO_ROOT)
    return None


def _model_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=default_model_dir(),
                        help="model directory (default: $PLATE_OCR_MODEL or the bundled model of a checkout)")


#: plate_ocr.engines.ENGINES, spelt out so that building the parser imports no torch (as it is
#: without the modelscope extra; with it, ``import plate_ocr`` registers the plugin, torch and all)
ENGINE_CHOICES = ("auto", "onnxruntime", "onnxruntime-int8", "torchscript", "eager")


def _engine_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", choices=ENGINE_CHOICES, default="auto",
                        help="what runs the network (default auto: ONNX Runtime if installed, in int8 where the "
                             "model directory says so, else TorchScript)")


#: plate_ocr.formats.DECODERS, spelt out for the same reason, with ``auto``: the model directory's
DECODER_CHOICES = ("auto", "greedy", "plate-format")


def _decoder_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--decoder", choices=DECODER_CHOICES, default="auto",
                        help="how logits become text (default auto: the model directory's model.decoder; "
                             "greedy: upstream's best path; plate-format: the best path that is a valid plate)")


def _reader_options(args: argparse.Namespace) -> dict:
    """PlateReader keyword arguments of --engine and --decoder."""
    return {"engine": args.engine, **({} if args.decoder == "auto" else {"decoder": args.decoder})}


def _need_model(args: argparse.Namespace) -> str:
    if not args.model:
        raise SystemExit("plate-ocr: no model directory: pass --model DIR or set PLATE_OCR_MODEL")
    return args.model


def expand_images(items: Sequence[str]) -> list[str]:
    """Command-line paths, with each directory replaced by the image files under it (sorted)."""
    from .training.data import IMAGE_SUFFIXES

    out: list[str] = []
    for item in items:
        if os.path.isdir(item):
            out.extend(sorted(str(p) for p in Path(item).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES))
        else:
            out.append(item)
    return out


def cmd_read(args: argparse.Namespace) -> int:
    import torch

    from .reader import PlateReader

    if args.threads:
        torch.set_num_threads(args.threads)
    reader = PlateReader.from_dir(_need_model(args), **_reader_options(args))
    paths = expand_images(args.images)
    if args.list:
        with open(args.list, encoding="utf-8") as f:
            paths.extend(line.rstrip("\n") for line in f if line.strip())
    failed = 0
    results = {}
    for index, text, error in reader.read_many(paths, batch_size=args.batch_size):
        if error is not None:
            failed += 1
            print(f"plate-ocr: skipped {error}", file=sys.stderr)
        results[index] = text
        if not args.json and error is None:
            print(f"{paths[index]}\t{text}", flush=False)
    if args.json:
        rows = [{"image": p, "text": results.get(i)} for i, p in enumerate(paths)]
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=1)
        print()
    if failed:
        print(f"plate-ocr: {failed} of {len(paths)} images could not be read", file=sys.stderr)
    return 1 if failed and failed == len(paths) else 0


def cmd_convert_upstream(args: argparse.Namespace) -> int:
    from .upstream import convert_upstream

    out = convert_upstream(args.src, args.dst, half=args.fp16)
    print(f"wrote {out}")
    return 0


def cmd_export_hub(args: argparse.Namespace) -> int:
    from .upstream import export_hub_dir

    out = export_hub_dir(args.src, args.dst)
    print(f"wrote {out}")
    return 0


def _cjk_font_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cjk-font", action="append", default=[], metavar="FONT",
                   help="font file drawing every Chinese plate character (FILE.ttc#N for face N of a collection); "
                        "repeat for more. A share of Chinese characters is then drawn from these fonts")


def parse_weights(text: str | None) -> dict[str, float] | None:
    """``"blue=0.1,green_car=0.2"`` -> ``{"blue": 0.1, "green_car": 0.2}``."""
    if not text:
        return None
    out = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--synth-weights: expected type=weight, got {part!r}") from None
    return out


def parse_depths(text: str) -> tuple[int, ...]:
    try:
        depths = tuple(int(part) for part in text.split(","))
    except ValueError:
        depths = ()
    if len(depths) != 4:
        raise argparse.ArgumentTypeError(f"expected 4 comma-separated integers, got {text!r}")
    return depths


def cmd_train(args: argparse.Namespace) -> int:
    from .training.train import TrainConfig, train

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(out / "train.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger().addHandler(handler)
    cfg = TrainConfig(
        out=out, data=args.data, dev=args.dev, synth_assets=args.synth, real_fraction=args.real_fraction,
        steps=args.steps, batch_size=args.batch_size, lr=args.lr, eval_every=args.eval_every, seed=args.seed,
        preset=args.preset, init_from=args.init_from, depths=args.depths, num_blocks=args.blocks,
        top_row_share=args.top_row_share, color=args.color, gray_fraction=args.gray_fraction, cjk_fonts=args.cjk_font,
        ema_decay=args.ema,
        workers=args.workers, threads=args.threads,
        resume=args.resume, progress=not args.no_progress, time_limit_s=args.time_limit * 60 if args.time_limit else None,
        warmup_steps=args.warmup, ramp_fraction=args.ramp_fraction, synth_weights=parse_weights(args.synth_weights))
    result = train(cfg)
    print(json.dumps({"best": result["best"], "step": result["step"]}))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .reader import PlateReader
    from .training.data import read_source
    from .training.evaluate import evaluate
    from .training.metrics import format_summary

    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    reader = PlateReader.from_dir(_need_model(args), **_reader_options(args))
    samples = [s for spec in args.data for s in read_source(spec)]
    summary = evaluate(reader, samples, batch_size=args.batch_size, per_image=args.per_image)
    summary["model"] = str(args.model)
    summary["data"] = args.data
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(summary, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=1))
    else:
        print(format_summary(summary))
        if summary["errors"]:
            print(f"unreadable images: {summary['errors']} (counted as wrong)")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from .training.synth import PlateSynthesizer

    types = args.types.split(",") if args.types else None
    synth = PlateSynthesizer(args.assets, seed=args.seed,
                             type_weights={t: 1.0 for t in types} if types else None, cjk_fonts=args.cjk_font)
    out = Path(args.out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    with open(out / "labels.tsv", "w", encoding="utf-8") as f:
        f.write("path\tlabel\ttype\n")
        for i in range(args.count):
            sample = synth.sample(i, strength=args.strength)
            name = f"images/{i:06d}.jpg"
            sample.image.save(out / name, quality=92)
            f.write(f"{name}\t{sample.label}\t{sample.plate_type}\n")
    print(f"wrote {args.count} images to {out}")
    return 0


def cmd_make_lmdb(args: argparse.Namespace) -> int:
    from .training.data import read_source, write_lmdb

    samples = [s for spec in args.data for s in read_source(spec)]
    print(f"wrote {write_lmdb(args.out, samples)} samples to {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="plate-ocr", description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("read", help="read plate crops; unreadable images are reported and skipped")
    p.add_argument("images", nargs="*", help="image files or folders (searched recursively)")
    p.add_argument("--list", help="a file with one image path per line")
    _model_arg(p)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    _engine_arg(p)
    _decoder_arg(p)
    p.add_argument("--json", action="store_true", help="print a JSON list instead of path<TAB>text lines")
    p.set_defaults(func=cmd_read)

    p = sub.add_parser("convert-upstream", help="turn a ModelScope ConvNextViT directory into a plate-ocr one")
    p.add_argument("src", help="upstream model directory (configuration.json, pytorch_model.pt, vocab.txt or label_dict.txt)")
    p.add_argument("dst", help="output model directory")
    p.add_argument("--fp16", action="store_true", help="store fp16 weights (half the size)")
    p.set_defaults(func=cmd_convert_upstream)

    p = sub.add_parser("export-hub", help="write a self-contained remote-code model directory (allow_remote)")
    p.add_argument("src", help="a plate-ocr model directory")
    p.add_argument("dst", help="output directory")
    p.set_defaults(func=cmd_export_hub)

    p = sub.add_parser("train", help="train or fine-tune; the output folder is a model directory")
    p.add_argument("--out", required=True)
    p.add_argument("--data", nargs="*", default=[], help="labelled sets: .tsv, LMDB folder or image folder")
    p.add_argument("--dev", nargs="*", default=[], help="sets to evaluate on and pick the best checkpoint by")
    p.add_argument("--synth", help="synthesis assets folder (shared/data/plates/synth); off if not given")
    p.add_argument("--real-fraction", type=float, default=0.5, help="share of real crops in each batch")
    p.add_argument("--synth-weights", help="plate type weights, e.g. blue=0.1,green_car=0.2 (default: the synthesiser's)")
    _cjk_font_arg(p)
    p.add_argument("--ramp-fraction", type=float, default=0.15,
                   help="share of the run over which augmentation ramps up to full strength (0 for fine-tuning)")
    p.add_argument("--steps", type=int, default=10000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--warmup", type=int, default=300)
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--preset", default="convnext-vit-compact")
    p.add_argument("--init-from", help="model directory to fine-tune (e.g. a converted upstream one)")
    p.add_argument("--depths", type=parse_depths,
                   help="ConvNeXt blocks per stage, e.g. 2,2,5,2 (default: the preset's or --init-from's); "
                        "with --init-from, only more: the model grows, new blocks starting as identities")
    p.add_argument("--blocks", type=int, help="transformer blocks (same rules as --depths)")
    p.add_argument("--top-row-share", type=float,
                   help="share of the canvas width for a two-row plate's top row (default: the preset's or "
                        "--init-from's); a model reads with the share it was trained with")
    p.add_argument("--color", action="store_true",
                   help="the network sees RGB, not gray; a gray --init-from model is converted so that "
                        "it starts out reading exactly as before")
    p.add_argument("--gray-fraction", type=float, default=0.0,
                   help="share of samples made gray, as from infrared cameras (for --color models)")
    p.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
                   help="evaluate, pick and save an exponential moving average of the weights with this "
                        "decay per step (e.g. 0.999; 0, the default, keeps the last weights)")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--time-limit", type=float, help="stop after this many minutes (state is saved)")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT/train_state.pt (with another --dev set, the best score so far is forgotten)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="accuracy on labelled sets, through the pipeline's engine")
    p.add_argument("data", nargs="+", help=".tsv, LMDB folder or image folder")
    _model_arg(p)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=0)
    _engine_arg(p)
    _decoder_arg(p)
    p.add_argument("--per-image", help="write one JSON line per image here")
    p.add_argument("--json-out", help="write the summary as JSON here")
    p.add_argument("--json", action="store_true", help="print JSON instead of the human summary")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("synth", help="write a synthetic labelled set (images/ + labels.tsv)")
    p.add_argument("--assets", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--types", help="comma-separated plate types (default: all, default weights)")
    p.add_argument("--strength", type=float, default=1.0)
    _cjk_font_arg(p)
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("make-lmdb", help="write labelled sets in ModelScope's OCR LMDB format")
    p.add_argument("data", nargs="+")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_make_lmdb)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, OSError) as exc:
        print(f"plate-ocr {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
