#!/usr/bin/env bash
# Creates .venv (Python 3.11) with the CPU build of torch and this package with the given extras.
# Usage: scripts/setup_env.sh EXTRAS   (e.g. "modelscope" or "modelscope,train,test")
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-modelscope}"
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r torch-cpu.txt
.venv/bin/pip install -q --disable-pip-version-check -e ".[${extras}]"
