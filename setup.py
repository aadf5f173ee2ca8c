"""Installs the ``plate_ocr`` package only (the root entry points stay in the model directory).

ModelScope's remote-code route imports every ``.py`` of a model directory, this one included,
so ``setup()`` runs only when the file is executed.
"""

from pathlib import Path

RUNTIME = ["torch>=2.1", "numpy", "pillow", "opencv-python-headless"]
EXTRAS = {
    # What modelscope.pipelines needs at run time on Python 3.11 (modelscope[cv] does not install).
    "modelscope": ["modelscope>=1.7", "addict", "datasets>=4.0.0,<=4.8.4", "simplejson", "sortedcontainers"],
    # ONNX Runtime, the fastest engine on the CPU (the reader exports the network at load time)
    "onnx": ["onnx>=1.14", "onnxruntime>=1.16"],
    "train": ["lmdb", "tqdm"],
    # fonttools builds a small CJK test font, so the font path of the synthesiser is tested on
    # machines without CJK fonts
    "test": ["pytest", "fonttools"],
}


def _version() -> str:
    for line in (Path(__file__).parent / "plate_ocr" / "__init__.py").read_text(encoding="utf-8").splitlines():
        if line.startswith("__version__"):
            return line.split("=")[1].strip().strip('"')
    raise RuntimeError("no __version__")


if __name__ == "__main__":
    from setuptools import find_packages, setup

    setup(
        name="plate-ocr",
        version=_version(),
        description="Chinese licence-plate recognition for ModelScope (ConvNeXt + transformer CTC)",
        long_description=(Path(__file__).parent / "README.md").read_text(encoding="utf-8"),
        long_description_content_type="text/markdown",
        python_requires=">=3.9",
        packages=find_packages(include=["plate_ocr", "plate_ocr.*"]),
        install_requires=RUNTIME,
        extras_require={**EXTRAS, "all": sorted({r for reqs in EXTRAS.values() for r in reqs})},
        entry_points={"console_scripts": ["plate-ocr=plate_ocr.cli:main"]},
        license="Apache-2.0",
    )
