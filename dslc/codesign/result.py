"""Co-design plans and outcomes as JSON-ready data and CSV rows (shapes in docs/cli.md).

In: a `Plan` or an `Outcome`. Out: dicts and lists of plain values, sorted and free of
timestamps, so that equal runs print equal bytes. It does not render tables (dslc.report).
"""

from __future__ import annotations

import math
from typing import Any

from dslc.codesign.evaluate import PairResult
from dslc.codesign.planner import Outcome, Plan
from dslc.codesign.space import Design


def design_json(design: Design) -> dict[str, Any]:
    return {"name": design.space, "params": design.params(), "label": design.label}


def plan_to_json(plan: Plan) -> dict[str, Any]:
    return {
        "strategy": plan.strategy,
        "reason": plan.reason,
        "objective": plan.objective,
        "networks": plan.networks,
        "accelerators": plan.accelerators,
        "pairs_total": plan.pairs_total,
        "pairs_planned": plan.pairs_planned,
        "reference": None if plan.reference is None else design_json(plan.reference),
        "reference_reason": plan.reference_reason,
        "keep": plan.keep,
        "phases": [{"name": p.name, "pairs": p.pairs, "description": p.description}
                   for p in plan.phases],
    }


def pair_json(result: PairResult, score: float) -> dict[str, Any]:
    metrics = result.metrics
    data: dict[str, Any] = {
        "network": design_json(result.network),
        "accelerator": design_json(result.accelerator),
        "objective": score if math.isfinite(score) else None,
    }
    if metrics is None:
        data["failure"] = result.failure
        return data
    data.update({
        "energy_pj": metrics.energy_pj, "cycles": metrics.cycles,
        "latency_s": metrics.latency_s, "edp": metrics.edp, "area_mm2": metrics.area_mm2,
        "accuracy": metrics.accuracy,
    })
    return data


def outcome_to_json(outcome: Outcome, top: int = 10) -> dict[str, Any]:
    """The documented `dslc run --format json` object of a co-design."""
    scores = outcome.scores
    ranked = outcome.ranked()
    check = outcome.rank_check
    best = outcome.best
    return {
        "strategy": outcome.plan.strategy,
        "reason": outcome.plan.reason,
        "pairs_total": outcome.plan.pairs_total,
        "pairs_evaluated": outcome.pairs_evaluated,
        "reduction": outcome.reduction,
        "reference": None if outcome.plan.reference is None
        else design_json(outcome.plan.reference),
        "kept": [d.label for d in outcome.kept],
        "rank_check": None if check is None else {
            "spearman": check.spearman, "kendall": check.kendall, "samples": check.samples,
            "accelerators": [d.label for d in check.accelerators], "passed": check.passed},
        "optimality": outcome.optimality,
        "log": list(outcome.log),
        "best": None if best is None else {
            **pair_json(best, scores[(best.network, best.accelerator)]),
            "layers": [{"name": layer.name, "problem_key": layer.problem_key,
                        "energy_pj": layer.energy_pj, "cycles": layer.cycles,
                        "utilization": layer.utilization} for layer in best.layers]},
        "top": [pair_json(outcome.results[pair], scores[pair]) for pair in ranked[:top]],
        "pareto": [pair_json(result, scores[(result.network, result.accelerator)])
                   for result in outcome.pareto],
    }


CSV_COLUMNS = ("network", "accelerator", "objective", "energy_pj", "cycles", "latency_s",
               "edp", "area_mm2", "accuracy", "feasible", "pareto")


def outcome_csv_rows(outcome: Outcome) -> list[list[object]]:
    """One row per evaluated pair (best first), columns CSV_COLUMNS."""
    front = {(r.network, r.accelerator) for r in outcome.pareto}
    rows: list[list[object]] = []
    for pair in outcome.ranked():
        metrics = outcome.results[pair].metrics
        score = outcome.scores[pair]
        rows.append([
            pair[0].label, pair[1].label, score if math.isfinite(score) else "",
            "" if metrics is None else metrics.energy_pj,
            "" if metrics is None else metrics.cycles,
            "" if metrics is None else metrics.latency_s,
            "" if metrics is None else metrics.edp,
            "" if metrics is None else metrics.area_mm2,
            "" if metrics is None or metrics.accuracy is None else metrics.accuracy,
            math.isfinite(score), pair in front])
    return rows
