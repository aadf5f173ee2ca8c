#!/usr/bin/env bash
# Fresh machine -> reads the demo plates in resources/demo with the bundled model, through
# ModelScope's pipeline(). Installs what it needs into .venv first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh modelscope,onnx
exec .venv/bin/python scripts/demo.py "$@"
