"""Terminal reports of co-design plans and outcomes (rich), and the Pareto plot image.

In: a `Plan` or an `Outcome`. Out: rich renderables (the plan's phases; the summary of
what the planner did, the best designs, the Pareto front, the winner's layers) and, with
matplotlib installed (the `plot` extra), a PNG of the Pareto front. It computes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dslc.codesign.evaluate import PairResult
from dslc.codesign.planner import Outcome, Plan
from dslc.report.cost import format_count, format_energy, format_seconds


def render_plan(plan: Plan) -> RenderableType:
    lines = [Text(f"strategy: {plan.strategy}", style="bold"),
             Text(f"why: {plan.reason}"),
             Text(f"space: {plan.networks} networks x {plan.accelerators} accelerators = "
                  f"{plan.pairs_total:,} pairs")]
    if plan.ruled_out is not None:
        lines.append(Text(f"ruled out by the constraints before evaluating: "
                          f"{plan.ruled_out:,} pairs"))
    if plan.at_most is not None:
        lines.append(Text(f"evaluates at most {plan.at_most:,} pairs (those the constraints "
                          "and the budget allow); it stops as soon as no bound left can beat "
                          "the best found"))
    if plan.budget.capped:
        caps = []
        if plan.budget.max_pairs is not None:
            caps.append(f"{plan.budget.max_pairs:,} pairs")
        if plan.budget.time_limit_s is not None:
            caps.append(f"{plan.budget.time_limit_s:g} s")
        lines.append(Text(f"budget: {' and '.join(caps)} (an answer found within it is "
                          "certified only if nothing is left to evaluate)"))
    if not plan.monotone:
        lines.append(Text(f"no objective bounds: {plan.monotone_note}"))
    if plan.reference is not None:
        lines.append(Text(f"reference: {plan.reference.label} ({plan.reference_reason})"))
        lines.append(Text(f"kept by default: {plan.keep} networks"))
    table = Table(title="phases", title_justify="left")
    table.add_column("phase")
    table.add_column("pairs (at most)", justify="right")
    table.add_column("what")
    for phase in plan.phases:
        table.add_row(phase.name, f"{phase.pairs:,}", phase.description)
    return Group(*lines, table)


def _has_accuracy(outcome: Outcome) -> bool:
    return any(r.metrics is not None and r.metrics.accuracy is not None
               for r in outcome.results.values())


def _row(result: PairResult, accuracy: bool) -> list[str]:
    metrics = result.metrics
    assert metrics is not None
    row = [result.network.label, result.accelerator.label, format_energy(metrics.energy_pj),
           format_seconds(metrics.latency_s), f"{metrics.edp:.4g}", f"{metrics.area_mm2:.3f}"]
    if accuracy:
        row.append("" if metrics.accuracy is None else f"{100 * metrics.accuracy:.1f}%")
    return row


def render_outcome(outcome: Outcome, top: int = 10, *, reused: int = 0,
                   store: str | None = None, notes: Sequence[str] = ()) -> RenderableType:
    """The summary, the best designs, the Pareto front and the winner's layers; `reused`
    pairs read back from `store`, and what the store did not trust (`notes`), are said at
    the end."""
    plan = outcome.plan
    parts: list[RenderableType] = [
        Text(f"strategy: {plan.strategy} ({plan.reason})"),
        Text(f"pairs evaluated: {outcome.pairs_evaluated:,} of {plan.pairs_total:,} "
             f"({outcome.reduction:.1f}x reduction)"),
    ]
    if plan.reference is not None:
        parts.append(Text(f"reference: {plan.reference.label} ({plan.reference_reason})"))
        parts.append(Text(f"kept: {len(outcome.kept)} networks"))
    if outcome.rank_check is not None:
        check = outcome.rank_check
        parts.append(Text(f"rank check: lowest Spearman {check.spearman:.3f}, lowest Kendall "
                          f"{check.kendall:.3f} over {check.samples} networks on "
                          f"{len(check.accelerators)} accelerators; kept {check.keep} "
                          f"networks{'' if check.passed else ' (widened)'}"))
    bounds = outcome.bounds
    if bounds is not None:
        removed = dict(bounds.removed)
        parts.append(Text(f"not evaluated: {removed['constraints']:,} ruled out by the "
                          f"constraints, {removed['bounds']:,} by their bounds, "
                          f"{removed['ranking']:,} by the ranking alone"))
        tight = {name: median for name, _, median, _ in bounds.tightness}
        if tight:
            parts.append(Text("bounds: evaluated / bound, median " + ", ".join(
                f"{name} {value:.2f}" for name, value in tight.items())))
    parts.extend(Text(line) for line in outcome.log)
    verdict = {
        "exhaustive": "exhaustive (every pair evaluated)",
        "certified": "certified (as good as evaluating every pair with this mapper)",
        "unverified": "unverified" + ("" if outcome.gap is None else
                                      f" (the optimum may be up to {outcome.gap:.3g}x "
                                      "better)"),
    }[outcome.optimality]
    parts.append(Text(f"optimality: {verdict}", style="bold"))
    ranked = [pair for pair in outcome.ranked() if math.isfinite(outcome.scores[pair])]
    accuracy = _has_accuracy(outcome)
    columns = ["network", "accelerator", "energy", "latency", "EDP pJ*s", "area mm2"]
    if accuracy:
        columns.append("accuracy")
    numeric = {"#", "energy", "latency", "EDP pJ*s", "area mm2", "accuracy"}
    table = Table(title=f"best designs ({plan.objective})", title_justify="left")
    for column in ["#", *columns]:
        table.add_column(column, justify="right" if column in numeric else "left")
    for rank, pair in enumerate(ranked[:top], start=1):
        table.add_row(str(rank), *_row(outcome.results[pair], accuracy))
    if not ranked:
        parts.append(Text("no evaluated design meets the constraints", style="bold red"))
    else:
        parts.append(table)
    front = Table(title="Pareto front of the evaluated pairs (energy, latency" +
                  (", accuracy)" if accuracy else ")"), title_justify="left")
    for column in columns:
        front.add_column(column, justify="right" if column in numeric else "left")
    for result in outcome.pareto:
        front.add_row(*_row(result, accuracy))
    if outcome.pareto:
        parts.append(front)
    best = outcome.best
    if best is not None and best.layers:
        layers = Table(title=f"layers of the best design ({best.network.label} on "
                             f"{best.accelerator.label})", title_justify="left")
        for column in ("layer", "energy", "cycles", "utilization"):
            layers.add_column(column, justify="left" if column == "layer" else "right")
        for layer in best.layers:
            layers.add_row(layer.name, format_energy(layer.energy_pj),
                           format_count(layer.cycles), f"{100 * layer.utilization:.1f}%")
        parts.append(layers)
    if reused:
        parts.append(Text(f"{reused} pairs read back from {store}"))
    parts.extend(Text(note) for note in notes)
    return Group(*parts)


def plot_pareto(outcome: Outcome, path: Path) -> bool:
    """Write the energy/latency scatter of every feasible pair with the Pareto front
    highlighted; False when matplotlib (the `plot` extra) is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    feasible = [outcome.results[pair].metrics for pair, score in outcome.scores.items()
                if math.isfinite(score)]
    front = sorted((r.metrics for r in outcome.pareto if r.metrics is not None),
                   key=lambda m: m.latency_s)
    figure, axes = plt.subplots(figsize=(6, 4.5))
    axes.scatter([m.latency_s * 1e3 for m in feasible if m is not None],
                 [m.energy_pj / 1e6 for m in feasible if m is not None], s=10, alpha=0.5,
                 label="evaluated")
    # Markers only: with accuracies the front is three-dimensional, so no line joins it.
    axes.plot([m.latency_s * 1e3 for m in front], [m.energy_pj / 1e6 for m in front], "o",
              color="tab:red", label="Pareto front")
    axes.set_xlabel("latency (ms)")
    axes.set_ylabel("energy (uJ)")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120, metadata={"Software": None})
    plt.close(figure)
    return True
