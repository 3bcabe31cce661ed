#!/bin/sh
# The GPU check from a checkout, no install (python3 with torch + triton; PYTHON=... to choose):
#   sh benchmarks/gpu_check.sh --json gpu_check.json     (see benchmarks/gpu_check.py --help)
cd "$(dirname "$0")/.." && PYTHONPATH="$PWD" exec timeout 450 "${PYTHON:-python3}" benchmarks/gpu_check.py "$@"
