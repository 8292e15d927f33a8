"""A differentiable answer whose objective overflows a double on some candidates
(tests/learn/tiny_trained.cd without trained accuracy, `maximize energy ^ 56` written as
seven eighth powers: the small networks' energy, about 2.1e5 to 2.3e5 pJ, stays below
1.8e308 to that power, the 16-channel ones', 7.9e5 to 8.4e5 pJ, does not).

The strategy took the first candidate by score, -inf for an overflowing maximised
objective, and found it not finite: "none of the 10 re-checked candidates meets the
constraints by the exact model: no answer", with no constraint in the request and two
finite candidates re-checked. The planner ranks only finite objectives; the answer is now
the best of those, and a candidate that overflows is "not finite" in the table, not
"infeasible"."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")  # the learn extra: dslc.learn.require needs both

from rich.console import Console  # noqa: E402

from dslc import api  # noqa: E402
from dslc.report.codesign import render_outcome  # noqa: E402

TINY = Path(__file__).with_name("tiny_trained.cd")
POWER = " * ".join(["energy ^ 8"] * 7)


def test_the_answer_is_the_best_finite_candidate() -> None:
    torch.set_num_threads(1)
    text = TINY.read_text().replace("objective    = minimize edp",
                                    f"objective    = maximize {POWER}")
    text = text.replace("    accuracy     = trained(dataset = digits, epochs = 1, seed = 1)\n",
                        "").replace("candidates = 3", "candidates = 10")
    outcome = api.search(api.compile(text=text, path=TINY), store=":memory:").outcome
    learned = outcome.learned
    assert learned is not None and not outcome.constraints
    checked = list(dict.fromkeys((c.network, c.accelerator) for c in learned.candidates))
    energy = {p: outcome.results[p].metrics.energy_pj for p in checked}  # type: ignore[union-attr]
    finite = [p for p in checked if math.isfinite(energy[p] ** 8 * energy[p] ** 48)]
    overflowing = [p for p in checked if p not in finite]
    assert finite and overflowing  # both kinds were re-checked here
    best = max(finite, key=lambda p: energy[p])  # maximise energy ^ 56: the largest energy
    assert learned.answer == best
    assert outcome.best is not None and (outcome.best.network, outcome.best.accelerator) == best
    assert outcome.scores[best] == pytest.approx(-(energy[best] ** 56), rel=1e-9)
    assert not any("no answer" in line for line in outcome.log)
    assert not any("beats the search's answer (-inf" in line for line in outcome.log)
    console = Console(width=300, record=True)
    console.print(render_outcome(outcome))
    report = console.export_text()
    assert "not finite" in report and "infeasible" not in report
