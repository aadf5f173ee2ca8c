"""Speed and memory: ModelScope's built-in ConvNextViT pipeline against this plugin, same weights,
same real crops, one run; plus the bundled compact model.

Each measurement runs in a fresh subprocess (so peak RSS is its own). Prints a table and, with
--json, the raw figures. Usage:

    python scripts/benchmark.py [--plates 256] [--latency-plates 200] [--engine auto] [--json out.json]
    python scripts/benchmark.py --bundled-only [--bundled DIR]   (the bundled model's figures alone)

The upstream-size checkpoint is made by ModelScope's own ConvNextViT with random weights (DAMO's
weights cannot be downloaded here); speed does not depend on the weight values.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CROPS = ROOT.parent / "shared" / "data" / "plates" / "real" / "dev.tsv"


def crops(tsv: Path, count: int) -> list[str]:
    with open(tsv, encoding="utf-8") as f:
        paths = [str(tsv.parent / r["path"]) for r in csv.DictReader(f, delimiter="\t")]
    return [paths[i % len(paths)] for i in range(count)]


def median_ms(seconds: list[float]) -> float:
    return 1000 * sorted(seconds)[len(seconds) // 2]


def cpu_model() -> str:
    """The processor's name (figures differ across processors of one machine kind)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def make_upstream_dir(path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.support import write_upstream_dir

    write_upstream_dir(path)


def child(kind: str, model: str, threads: int, paths: list[str], latency_plates: int, engine: str) -> dict:
    import torch

    torch.set_num_threads(threads)
    from modelscope.pipelines import pipeline
    from modelscope.utils.constant import Tasks

    if kind == "builtin":
        ocr = pipeline(Tasks.ocr_recognition, model=model, device="cpu")
    else:
        import plate_ocr  # noqa: F401
        ocr = pipeline(Tasks.ocr_recognition, model=model, device="cpu", engine=engine)
    for path in paths[:10]:  # warm-up (TorchScript optimises over its first runs)
        ocr(path)
    times = []
    for path in paths[:latency_plates]:
        start = time.perf_counter()
        ocr(path)
        times.append(time.perf_counter() - start)
    out = {"latency_ms_median": median_ms(times), "latency_ms_mean": 1000 * sum(times) / len(times)}
    if kind != "builtin":  # the network and decoding alone: prepared canvases, no file decode or resize
        from plate_ocr.reader import candidate_canvases

        reader = ocr.model.reader
        out["engine"] = reader.engine_in_use
        canvases = [candidate_canvases(reader.geometry, [path])[0][0] for path in paths[:latency_plates]]
        times = []
        for canvas in canvases:
            start = time.perf_counter()
            reader.texts_of_canvases([canvas], [0])
            times.append(time.perf_counter() - start)
        out["canvas_ms_median"] = median_ms(times)
    if len(paths) > latency_plates:
        start = time.perf_counter()
        texts = [r["text"][0] for r in ocr(paths)]
        out["throughput_per_s"] = len(paths) / (time.perf_counter() - start)
        out["texts"] = texts
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def compare_engines(model: str, threads: int, paths: list[str]) -> dict:
    """Median whole-read latency of each engine, and of each decoder on the default engine, on
    one model, all taking turns plate by plate in one process, so that a busy or throttled
    machine slows them alike. Keys: engine names, and ``decoder <name>``."""
    import torch

    torch.set_num_threads(threads)
    from plate_ocr.engines import ONNX_ENGINES
    from plate_ocr.formats import DECODERS
    from plate_ocr.reader import PlateReader

    readers = {}
    for engine in (*ONNX_ENGINES, "torchscript"):
        reader = PlateReader.from_dir(model, engine=engine)
        if reader.engine_in_use == engine:  # not installed: left out
            readers[engine] = reader
    for decoder in DECODERS:
        readers[f"decoder {decoder}"] = PlateReader.from_dir(model, decoder=decoder)
    times: dict[str, list[float]] = {name: [] for name in readers}
    for path in paths[:10]:
        for reader in readers.values():
            reader.read_one(path)
    for path in paths:
        for name, reader in readers.items():
            start = time.perf_counter()
            reader.read_one(path)
            times[name].append(time.perf_counter() - start)
    return {name: median_ms(t) for name, t in times.items()}


def run_child(kind: str, model: str, threads: int, paths: list[str], latency_plates: int, engine: str) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(paths, f)
    cmd = [sys.executable, __file__, "--child", kind, "--model", model, "--threads", str(threads),
           "--paths-file", f.name, "--latency-plates", str(latency_plates), "--engine", engine]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    os.unlink(f.name)
    if out.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plates", type=int, default=256, help="list size for throughput")
    parser.add_argument("--latency-plates", type=int, default=200, help="plates read one at a time for the median latency")
    parser.add_argument("--crops", default=str(DEFAULT_CROPS), help="TSV of real crops")
    parser.add_argument("--bundled", default=str(ROOT), help="bundled model directory")
    parser.add_argument("--engine", default="auto",
                        help="what runs the plugin's and the bundled model's network")
    parser.add_argument("--json", help="write raw figures here")
    parser.add_argument("--bundled-only", action="store_true",
                        help="measure the bundled model alone, skipping the minutes of upstream-size runs")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=2, help=argparse.SUPPRESS)
    parser.add_argument("--paths-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "compare":
        paths = json.loads(Path(args.paths_file).read_text())
        print(json.dumps(compare_engines(args.model, args.threads, paths)))
        return 0
    if args.child:
        paths = json.loads(Path(args.paths_file).read_text())
        print(json.dumps(child(args.child, args.model, args.threads, paths, args.latency_plates, args.engine), ensure_ascii=False))
        return 0

    # checked here, before minutes of built-in runs (importing the package in the children
    # would register the plugin in the built-in pipeline's process too)
    sys.path.insert(0, str(ROOT))
    from plate_ocr.engines import check_engine

    check_engine(args.engine)
    paths = crops(Path(args.crops), args.plates)
    results: dict = {"machine": f"{cpu_model()}, {platform.machine()}, {os.cpu_count()} cores, "
                                f"Python {platform.python_version()}",
                     "plates": args.plates}
    with tempfile.TemporaryDirectory() as tmp:
        runs = [("bundled", args.bundled)]
        if not args.bundled_only:
            upstream = Path(tmp) / "upstream"
            make_upstream_dir(upstream)
            converted = Path(tmp) / "converted"
            from plate_ocr.upstream import convert_upstream
            convert_upstream(upstream, converted)
            runs = [("builtin", str(upstream)), ("plugin", str(converted))] + runs
        for kind, model in runs:
            for threads in (1, 2):
                lat_only = threads == 1
                sel = paths[: args.latency_plates] if lat_only else paths
                results[f"{kind}_{threads}t"] = run_child(kind, model, threads, sel, args.latency_plates, args.engine)
                print(f"{kind} {threads} thread(s): "
                      + ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}"
                                 for k, v in results[f"{kind}_{threads}t"].items() if k != "texts"),
                      flush=True)
    results["bundled_engines_1t"] = run_child("compare", args.bundled, 1, paths[: args.latency_plates],
                                              args.latency_plates, args.engine)
    turns = results["bundled_engines_1t"]
    engines_line = ("bundled model, 1 thread, taking turns plate by plate (ms/plate, median): engines "
                    + ", ".join(f"{e} {v:.1f}" for e, v in turns.items() if not e.startswith("decoder "))
                    + "; on engine auto, decoders "
                    + ", ".join(f"{e[8:]} {v:.2f}" for e, v in turns.items() if e.startswith("decoder ")))
    if args.bundled_only:
        print(f"\nmachine: {results['machine']}; engine: {results['bundled_1t']['engine']}")
        print(engines_line)
        return finish(results, args.json, True)
    b, p = results["builtin_2t"], results["plugin_2t"]
    identical = b["texts"] == p["texts"]
    results["identical_text"] = identical
    results["throughput_ratio"] = p["throughput_per_s"] / b["throughput_per_s"]
    results["latency_ratio_1t"] = results["builtin_1t"]["latency_ms_median"] / results["plugin_1t"]["latency_ms_median"]
    results["latency_ratio_2t"] = b["latency_ms_median"] / p["latency_ms_median"]
    print()
    print(f"machine: {results['machine']}; engine: {results['bundled_1t']['engine']}")
    print(f"{'':28}{'built-in':>12}{'plugin':>12}{'ratio':>8}{'bundled':>12}")
    for label, key, fmt in (("latency 1 thread (ms/plate)", ("1t", "latency_ms_median"), "{:.1f}"),
                            ("  of it, network + decoding", ("1t", "canvas_ms_median"), "{:.1f}"),
                            ("latency 2 threads (ms/plate)", ("2t", "latency_ms_median"), "{:.1f}"),
                            (f"throughput {args.plates} list (/s)", ("2t", "throughput_per_s"), "{:.1f}"),
                            ("peak RSS 2 threads (MB)", ("2t", "peak_rss_mb"), "{:.0f}")):
        t, k = key
        pv, cv = results[f"plugin_{t}"][k], results[f"bundled_{t}"][k]
        bv = results[f"builtin_{t}"].get(k)
        if bv is None:  # the built-in pipeline cannot be timed without its file decode
            print(f"{label:28}{'':>12}{fmt.format(pv):>12}{'':>8}{fmt.format(cv):>12}")
            continue
        ratio = pv / bv if "throughput" in k else bv / pv
        print(f"{label:28}{fmt.format(bv):>12}{fmt.format(pv):>12}{ratio:>7.2f}x{fmt.format(cv):>12}")
    print(f"identical text on all {args.plates} plates (built-in vs plugin): {identical}")
    print(engines_line)
    return finish(results, args.json, identical)


def finish(results: dict, json_path: str | None, ok: bool) -> int:
    """Writes the raw figures (without the texts) if asked to; the exit status."""
    for value in results.values():
        if isinstance(value, dict):
            value.pop("texts", None)
    if json_path:
        Path(json_path).write_text(json.dumps(results, indent=1) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
