#!/usr/bin/env bash
# Fresh machine -> runs the whole test suite (slow tests included) on CPU, offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh modelscope,onnx,train,test
exec .venv/bin/python -m pytest -q "$@"
