"""The differentiable strategy at the stated limits (docs/performance.md, "The
differentiable strategy at the limits"): each spec of benchmarks/scale/ runs to its end
within a peak RSS well under what the unbounded version took (or asked for: 33.6 GB on the
trained spec, an internal error). Slow (a minute or more each): `python -m pytest -m slow`."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

SCALE = Path(__file__).parents[2] / "benchmarks" / "scale"


def _run(spec: str) -> tuple[dict[str, object], float]:
    """`dslc run SPEC --format json` in a child process: its JSON and its peak RSS (GB)."""
    found = subprocess.run([sys.executable, "-m", "dslc", "run", str(SCALE / spec), "--cache",
                            ":memory:", "--format", "json"], capture_output=True, text=True,
                           check=False, timeout=1800)
    assert found.returncode == 0, found.stdout[-2000:] + found.stderr[-2000:]
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6  # kB on Linux
    return json.loads(found.stdout), peak


@pytest.mark.slow
def test_the_trained_prediction_table_of_200000_pairs() -> None:
    data, peak = _run("dance_trained_200k.cd")
    assert data["strategy"] == "differentiable"
    assert data["unproved"] is not None
    assert data["unproved"]["networks"] == 2000  # type: ignore[index]
    assert peak < 3.0


@pytest.mark.slow
def test_ten_million_pairs_end_certified() -> None:
    data, peak = _run("dance_pairs_10m.cd")
    assert data["pairs_total"] == 10_000_000
    assert data["optimality"] == "certified"
    assert data["best"]["objective"] == pytest.approx(4.332165325)  # type: ignore[index]
    assert peak < 3.0
