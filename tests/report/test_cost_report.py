"""The `dslc eval` terminal report, against golden files (UPDATE_GOLDEN=1 rewrites them).

The golden text is the rich rendering at 80 columns (the non-terminal default) and at 160
(where per-instance columns appear). Every figure in it comes from the Cost; the assertions
below the golden comparison pin the formatting helpers on hand-picked values.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from rich.console import Console

from dslc import api
from dslc.report.cost import format_count, format_energy, format_seconds, render_cost

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("width", [80, 160])
def test_eval_report_golden(width: int) -> None:
    cost = api.evaluate(api.compile(REPO / "examples" / "mapping.cd"), "rs_conv3x3")
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    console.print(render_cost(cost, per_instance=width >= 150))
    text = console.export_text()
    golden = GOLDEN / f"eval_rs_conv3x3_{width}.txt"
    if UPDATE:
        golden.write_text(text)
    assert golden.exists(), f"run UPDATE_GOLDEN=1 to create {golden.name}"
    assert text == golden.read_text()
    assert max(len(line) for line in text.splitlines()) <= width


def test_formatting_helpers() -> None:
    assert format_energy(198.0) == "198 pJ"
    assert format_energy(1_348_172_233.44) == "1.348 mJ"
    assert format_energy(2.5e12) == "2.5 J"
    assert format_count(99_999) == "99,999"
    assert format_count(294_912) == "294.9K"
    assert format_count(115_605_504) == "115.6M"
    assert format_seconds(0.00344064) == "3.441 ms"
    assert format_seconds(2e-9) == "2.000 ns"
