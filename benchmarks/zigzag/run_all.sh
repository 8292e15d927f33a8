#!/usr/bin/env bash
# One benchmark session: dslc, then ZigZag on the shipped 32x32 tpu_like and on the same
# accelerator resized to 16x16, one after the other (never in parallel: 2 cores), then the
# comparison. Run from anywhere; results go to $OUT (default /tmp/zigzag_bench_results).
#   ZZ_PY   the ZigZag environment's python (default /tmp/zzvenv/bin/python)
#   DSLC_PY the project's python (default .venv/bin/python in the repository)
set -euo pipefail
cd "$(dirname "$0")/../.."
ZZ_PY=${ZZ_PY:-/tmp/zzvenv/bin/python}
DSLC_PY=${DSLC_PY:-.venv/bin/python}
OUT=${OUT:-/tmp/zigzag_bench_results}
mkdir -p "$OUT"
{ echo "nproc: $(nproc)"; echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)";
  echo "dslc python: $($DSLC_PY --version 2>&1)"; echo "zigzag python: $($ZZ_PY --version 2>&1)";
  echo "date: $(date -u +%FT%TZ)"; } | tee "$OUT/machine.txt"
"$DSLC_PY" benchmarks/zigzag/run_dslc.py --json-out "$OUT/dslc.json" > /dev/null
"$ZZ_PY" benchmarks/zigzag/run_zigzag.py --json-out "$OUT/zigzag_32x32.json" > /dev/null
"$ZZ_PY" benchmarks/zigzag/run_zigzag.py --array-size 16 --json-out "$OUT/zigzag_16x16.json" \
    > /dev/null
python3 benchmarks/zigzag/compare.py "$OUT/dslc.json" "$OUT/zigzag_32x32.json" \
    "$OUT/zigzag_16x16.json" | tee "$OUT/compare.txt"
