#!/usr/bin/env bash
# One benchmark session: dslc (3 runs, the median reported), then ZigZag on the shipped 32x32
# tpu_like and on the same accelerator resized to 16x16, one after the other (never in
# parallel: 2 cores), then the comparison. Run from anywhere; results go to $OUT.
#   OUT       results folder (default /tmp/zigzag_bench_results)
#   ZZ_PY     the ZigZag environment's python (default /tmp/zzvenv/bin/python)
#   DSLC_PY   the project's python (default .venv/bin/python in the repository)
#   DSLC_REV  time this git revision of dslc (exported with `git archive` into $OUT/dslc_src
#             and put first on PYTHONPATH) instead of the working tree as installed: use it
#             while the tree is being edited, e.g. DSLC_REV=HEAD
set -euo pipefail
cd "$(dirname "$0")/../.."
ZZ_PY=${ZZ_PY:-/tmp/zzvenv/bin/python}
DSLC_PY=${DSLC_PY:-.venv/bin/python}
OUT=${OUT:-/tmp/zigzag_bench_results}
mkdir -p "$OUT"
load() { echo "loadavg $1: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt"; }
{ echo "nproc: $(nproc)"; echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)";
  echo "dslc python: $($DSLC_PY --version 2>&1)"; echo "zigzag python: $($ZZ_PY --version 2>&1)";
  echo "date: $(date -u +%FT%TZ)"; } | tee "$OUT/machine.txt"
if [ -n "${DSLC_REV:-}" ]; then
    rm -rf "$OUT/dslc_src" && mkdir -p "$OUT/dslc_src"
    # The library is inside dslc/ (dslc/std/) since issue 14; older revisions have specs/.
    if git cat-file -e "$DSLC_REV:specs" 2>/dev/null; then
        git archive "$DSLC_REV" dslc specs | tar -x -C "$OUT/dslc_src"
    else
        git archive "$DSLC_REV" dslc | tar -x -C "$OUT/dslc_src"
    fi
    git rev-parse "$DSLC_REV" > "$OUT/dslc_src/COMMIT"
    export PYTHONPATH="$OUT/dslc_src${PYTHONPATH:+:$PYTHONPATH}"
    echo "dslc: $(cat "$OUT/dslc_src/COMMIT") (git archive of $DSLC_REV)" | tee -a "$OUT/machine.txt"
fi
load "before dslc"
"$DSLC_PY" benchmarks/zigzag/run_dslc.py --repeat 3 --json-out "$OUT/dslc.json" > /dev/null
load "before zigzag 32x32"
"$ZZ_PY" benchmarks/zigzag/run_zigzag.py --json-out "$OUT/zigzag_32x32.json" > /dev/null
load "before zigzag 16x16"
"$ZZ_PY" benchmarks/zigzag/run_zigzag.py --array-size 16 --json-out "$OUT/zigzag_16x16.json" \
    > /dev/null
load "after"
python3 benchmarks/zigzag/compare.py "$OUT/dslc.json" "$OUT/zigzag_32x32.json" \
    "$OUT/zigzag_16x16.json" | tee "$OUT/compare.txt"
