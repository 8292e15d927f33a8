"""What a learned (differentiable) co-design search reports, as plain data.

In: figures computed by dslc.codesign.dance (the evaluator's quality, the search's trajectory, what
the evaluator predicted for each candidate the exact model re-checked). Out: frozen values
that an `Outcome` carries (`Outcome.learned`) and that dslc.export and dslc.report render.
It imports no torch and computes nothing: dslc.codesign.dance trains and searches
(docs/design/differentiable.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dslc.codesign.designs import Design


def shown(value: float, spec: str) -> str:
    """A quality figure as text: `format(value, spec)`, or `n/a` when it is not a finite
    number (a Spearman over fewer than two pairs: a space small enough that the samples
    take every pair leaves none held out). The text report and the log never show nan."""
    return format(value, spec) if math.isfinite(value) else "n/a"


@dataclass(frozen=True, slots=True)
class EvaluatorQuality:
    """How well the evaluator network predicts the exact cost model, on pairs it was not
    trained on."""

    train_pairs: int
    """Pairs costed exactly and trained on."""
    heldout_pairs: int
    """Pairs costed exactly, not trained on, on accelerators seen in training."""
    unseen_pairs: int
    """Pairs costed exactly on accelerators never seen in training."""
    spearman: float
    """Spearman correlation of the predicted and exact objective over the held-out pairs."""
    kendall: float
    """Kendall tau-b of the same."""
    mape_energy: float
    """Mean absolute percentage error of the predicted energy (a fraction: 0.02 is 2%)."""
    mape_latency: float
    """The same for latency."""
    mape_area: float
    """The same for area."""
    unseen_spearman: float
    """Spearman of the objective over the pairs on unseen accelerators."""
    unseen_kendall: float
    unseen_mape_energy: float
    unseen_mape_latency: float
    train_seconds: float
    """Wall time of the evaluator's training (not in any output that must be deterministic:
    `dslc learn evaluator` prints it; `dslc run` does not)."""
    reused: bool
    """Whether the trained evaluator was read back from disk instead of trained."""
    key: str
    """The evaluator's key: the spaces' spec digests, the mapper options, the cost model's
    version and the training settings."""
    replaced: str = ""
    """Why a saved evaluator under this key was not read back but trained afresh and
    replaced (a truncated or corrupt file, another space's); empty otherwise."""


@dataclass(frozen=True, slots=True)
class Prediction:
    """What the evaluator said for a pair, in the metrics' own units."""

    energy_pj: float
    latency_s: float
    area_mm2: float
    objective: float
    """The request's objective from the predicted metrics (lower is better)."""
    accuracy: float | None = None
    """The accuracy the search assumed: known, or the supernet's (inherited weights) with
    trained accuracy; None when unknown."""


@dataclass(frozen=True, slots=True)
class TrajectoryStep:
    """One step of the differentiable search."""

    step: int
    loss: float
    expected_cost: float
    """The expected objective under the search's current distributions (exp of the
    expected log objective, in the objective's units)."""
    accuracy_loss: float | None
    """The accuracy term of the loss (None in cost-only mode)."""
    network: Design
    """The most likely network (the architecture choice) at this step."""
    accelerator: Design
    """The generator's most likely accelerator for it."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A pair the search proposed and the exact model re-checked."""

    network: Design
    accelerator: Design
    predicted: Prediction
    cost_weight: float | None
    """The cost weight of the search that proposed it (None: a refinement round)."""
    round: int = 0
    """0: proposed by a search of the weight sweep; k >= 1: by the k-th refinement round
    (trained accuracy with an accuracy constraint, docs/design/differentiable.md)."""


@dataclass(frozen=True, slots=True)
class LearnedSearch:
    """The differentiable strategy's own report (besides the exact pairs of the outcome)."""

    evaluator: EvaluatorQuality
    mode: str
    """`cost-only` (no accuracy source), `known accuracy` (every network's accuracy is
    declared or tabled) or `trained accuracy` (a supernet)."""
    cost_weight: float
    steps: int
    trajectory: tuple[TrajectoryStep, ...]
    """The main search's steps (the request's cost weight)."""
    candidates: tuple[Candidate, ...]
    """Every re-checked candidate, in the order proposed (best predicted first per
    weight)."""
    answer: tuple[Design, Design] | None
    """The best re-checked candidate by the exact model (None: none is feasible)."""
    weights: tuple[float, ...] = ()
    """The cost weights searched (the request's first)."""
    estimates: tuple[tuple[Design, float], ...] = ()
    """Trained accuracy: the supernet's accuracy (inherited weights) of every network
    design, the accuracies the search assumed (empty in the other modes)."""
