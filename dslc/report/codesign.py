"""Terminal reports of co-design plans and outcomes (rich), and the Pareto plot image.

In: a `Plan` or an `Outcome`. Out: rich renderables (the plan's phases; the summary of
what the planner did, the best designs, the Pareto front, the winner's layers) and, with
matplotlib installed (the `plot` extra), a PNG of the Pareto front. It computes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dslc.codesign.evaluate import Pair, PairResult
from dslc.codesign.learned import EvaluatorQuality, shown
from dslc.codesign.planner import Outcome, Plan
from dslc.report.cost import format_area, format_count, format_edp, format_energy, format_seconds
from dslc.report.figures import save_png


def render_plan(plan: Plan) -> RenderableType:
    lines = [Text(f"strategy: {plan.strategy}", style="bold"),
             Text(f"why: {plan.reason}"),
             Text(f"space: {plan.networks} networks x {plan.accelerators} accelerators = "
                  f"{plan.pairs_total:,} pairs")]
    if plan.ruled_out is not None:
        lines.append(Text(f"ruled out by the constraints before evaluating: "
                          f"{plan.ruled_out:,} pairs"))
    if plan.at_most is not None:
        # Only the semi-decoupled planner stops on its bounds; the others evaluate what
        # their phases say (the differentiable strategy: its samples and re-checks).
        lines.append(Text(f"evaluates at most {plan.at_most:,} pairs (those the constraints "
                          "and the budget allow)" + (
                              "; it stops as soon as no bound left can beat the best found"
                              if plan.strategy == "semi_decoupled" else "")))
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


def _why_infeasible(outcome: Outcome) -> list[str]:
    """Per constraint, the evaluated pairs it rules out; the pairs without a mapping; the
    networks of unknown accuracy; the pair closest to feasibility."""
    why = outcome.infeasibility()
    by_bounds = {} if outcome.bounds is None else dict(outcome.bounds.broken_by)
    total = outcome.plan.pairs_total
    lines = [f"  {text}: rules out {count:,} of {outcome.pairs_evaluated:,} evaluated pairs"
             + ("" if text not in by_bounds else
                f" ({by_bounds[text]:,} of all {total:,} by its bounds alone)")
             for text, count in why.constraints]
    unevaluated = 0 if outcome.bounds is None else \
        dict(outcome.bounds.removed)["constraints"]
    if unevaluated:
        lines.append(f"  {unevaluated:,} more pairs ruled out by the constraints without "
                     "evaluating them")
    if why.no_mapping:
        lines.append(f"  {why.no_mapping:,} pairs have a layer with no valid mapping")
    if why.unknown_accuracy:
        lines.append("  accuracy unknown (not in the accuracy table) for: " +
                     ", ".join(why.unknown_accuracy))
    if why.closest is not None and why.by_bounds:
        excess = "" if why.closest_excess is None else \
            f", its worst by at least {100 * (why.closest_excess - 1):.1f}%"
        lines.append(f"  closest by its bounds (no pair evaluated): {why.closest[0].label} on "
                     f"{why.closest[1].label} breaks {', '.join(why.closest_breaks)}{excess}")
    elif why.closest is not None:
        excess = "" if why.closest_excess is None else \
            f", its worst by {100 * (why.closest_excess - 1):.1f}%"
        lines.append(f"  closest: {why.closest[0].label} on {why.closest[1].label} breaks "
                     f"{', '.join(why.closest_breaks)}{excess}")
    return lines


def _has_accuracy(outcome: Outcome) -> bool:
    return any(r.metrics is not None and r.metrics.accuracy is not None
               for r in outcome.results.values())


@dataclass(frozen=True, slots=True)
class DesignColumns:
    """How tables name a pair's designs: the parameters that vary among the evaluated
    pairs (network ones first), a space-name column only for a kind with several spaces;
    what does not vary is said once above the tables (`fixed`)."""

    network_space: bool
    accelerator_space: bool
    network_params: tuple[str, ...]
    accelerator_params: tuple[str, ...]
    fixed: tuple[str, ...]

    def headers(self) -> list[str]:
        shared = set(self.network_params) & set(self.accelerator_params)
        return [*(["network"] if self.network_space else []),
                *(f"net.{p}" if p in shared else p for p in self.network_params),
                *(["accelerator"] if self.accelerator_space else []),
                *(f"acc.{p}" if p in shared else p for p in self.accelerator_params)]

    def cells(self, result: PairResult) -> list[str]:
        cells: list[str] = []
        for design, show_space, params in (
                (result.network, self.network_space, self.network_params),
                (result.accelerator, self.accelerator_space, self.accelerator_params)):
            texts = dict(zip((k for k, _ in design.point), design.texts or
                             tuple(str(v) for _, v in design.point), strict=True))
            if show_space:
                cells.append(design.space)
            cells.extend(texts.get(p, "-") for p in params)
        return cells


def design_columns(outcome: Outcome) -> DesignColumns:
    """The `DesignColumns` of an outcome's evaluated pairs."""
    pairs = list(outcome.results)
    fixed: list[str] = []
    varying: list[tuple[str, ...]] = []
    for index in (0, 1):
        designs = {pair[index] for pair in pairs}
        values: dict[str, set[str]] = {}
        for design in designs:
            texts = design.texts or tuple(str(v) for _, v in design.point)
            for (key, _), text in zip(design.point, texts, strict=True):
                values.setdefault(key, set()).add(text)
        varying.append(tuple(sorted(k for k, v in values.items() if len(v) > 1)))
        spaces = {d.space for d in designs}
        if len(spaces) == 1:
            fixed.append(f"{'network' if index == 0 else 'accelerator'} {spaces.pop()}")
        fixed.extend(f"{k} = {next(iter(v))}" for k, v in sorted(values.items())
                     if len(v) == 1)
    return DesignColumns(len({p[0].space for p in pairs}) > 1,
                         len({p[1].space for p in pairs}) > 1, varying[0], varying[1],
                         tuple(fixed))


def _row(result: PairResult, accuracy: bool, columns: DesignColumns) -> list[str]:
    metrics = result.metrics
    assert metrics is not None
    row = [*columns.cells(result), format_energy(metrics.energy_pj),
           format_seconds(metrics.latency_s), format_edp(metrics.edp),
           format_area(metrics.area_mm2)]
    if accuracy:
        row.append("" if metrics.accuracy is None else f"{100 * metrics.accuracy:.1f}%")
    return row


def _tables(title: str, headers: list[str], rows: list[list[str]], numeric: set[str],
            width: int) -> list[RenderableType]:
    """One table, or, when it would not fit in `width` columns, two sharing the `#`
    column: the design parameters, then the figures. Design cells are never wrapped nor
    cut."""
    def table(title: str, columns: list[int]) -> Table:
        made = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD,
                     collapse_padding=True, pad_edge=False)
        for index in columns:
            made.add_column(headers[index], no_wrap=True,
                            justify="right" if headers[index] in numeric else "left")
        for row in rows:
            made.add_row(*(row[index] for index in columns))
        return made

    widths = [max(len(cell) for cell in (header, *(row[i] for row in rows)))
              for i, header in enumerate(headers)]
    if sum(widths) + 2 * (len(headers) - 1) <= width:
        return [table(title, list(range(len(headers))))]
    designs = [i for i, header in enumerate(headers) if header == "#" or header not in numeric]
    figures = [0, *(i for i, header in enumerate(headers) if header in numeric and i)]
    return [table(title, designs), table(f"{title}: figures", figures)]


def render_outcome(outcome: Outcome, top: int = 10, *, reused: int = 0,
                   store: str | None = None, notes: Sequence[str] = (), width: int = 80
                   ) -> RenderableType:
    """The summary, the best designs, the Pareto front and the winner's layers, for a
    terminal `width` columns wide; `reused` pairs read back from `store`, and what the
    store did not trust (`notes`), are said at the end."""
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
    if outcome.learned is not None:
        parts.extend(_learned_parts(outcome, width))
    verdict = {
        "exhaustive": "exhaustive (every pair evaluated)",
        "certified": "certified (as good as evaluating every pair with this mapper)",
        "unverified": "unverified" + ("" if outcome.gap is None else
                                      f" (the optimum may be up to {outcome.gap:.3g}x "
                                      "better)"),
    }[outcome.optimality]
    parts.append(Text(f"optimality: {verdict}", style="bold"))
    if outcome.unproved is not None:
        parts.append(Text(f"not proved: {outcome.unproved.text}", style="bold"))
    ranked = [pair for pair in outcome.ranked() if math.isfinite(outcome.scores[pair])]
    accuracy = _has_accuracy(outcome)
    designs = design_columns(outcome)
    if designs.fixed:
        parts.append(Text("fixed in every evaluated pair: " + ", ".join(designs.fixed)))
    metric_columns = ["energy", "latency", "EDP", "area"] + (["accuracy"] if accuracy else [])
    numeric = {"#", *metric_columns}
    best_rows = [[str(rank), *_row(outcome.results[pair], accuracy, designs)]
                 for rank, pair in enumerate(ranked[:top], start=1)]
    front_rows = [[str(rank), *_row(result, accuracy, designs)]
                  for rank, result in enumerate(outcome.pareto, start=1)]
    headers = ["#", *designs.headers(), *metric_columns]
    if not ranked and any(not outcome.failure(pair) for pair in outcome.results):
        # Feasible pairs whose objective is not finite: the log says why.
        parts.append(Text("no evaluated design has a finite objective", style="bold red"))
    elif not ranked and not outcome.results and not outcome.constraints:
        parts.append(Text("no pair was evaluated", style="bold red"))
    elif not ranked:
        parts.append(Text("no evaluated design meets the constraints", style="bold red"))
        parts.extend(Text(line) for line in _why_infeasible(outcome))
    else:
        parts.extend(_tables(f"best designs ({plan.objective})", headers, best_rows,
                             numeric, width))
    if outcome.pareto:
        parts.extend(_tables("Pareto front of the evaluated pairs (energy, latency" +
                             (", accuracy)" if accuracy else ")"), headers, front_rows,
                             numeric, width))
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


def render_evaluator(quality: EvaluatorQuality) -> RenderableType:
    """`dslc learn evaluator`'s report: the samples and the quality on held-out pairs and
    on accelerators never trained on."""
    table = Table(title="learned cost evaluator against the exact model",
                  title_justify="left")
    for column in ("pairs", "count", "Spearman", "Kendall", "energy error",
                   "latency error", "area error"):
        table.add_column(column, justify="left" if column == "pairs" else "right")
    table.add_row("training", f"{quality.train_pairs:,}", "", "", "", "", "")
    table.add_row("held out", f"{quality.heldout_pairs:,}", shown(quality.spearman, ".4f"),
                  shown(quality.kendall, ".4f"), shown(quality.mape_energy, ".2%"),
                  shown(quality.mape_latency, ".2%"), shown(quality.mape_area, ".2%"))
    table.add_row("unseen accelerators", f"{quality.unseen_pairs:,}",
                  shown(quality.unseen_spearman, ".4f"), shown(quality.unseen_kendall, ".4f"),
                  shown(quality.unseen_mape_energy, ".2%"),
                  shown(quality.unseen_mape_latency, ".2%"), "")
    how = "read back from disk" if quality.reused else \
        f"trained in {quality.train_seconds:.1f} s"
    return Group(table, Text(f"Spearman and Kendall of the objective, errors as mean absolute "
                             f"percentage; evaluator {quality.key} {how}"),
                 *([Text(quality.replaced)] if quality.replaced else []))


def _learned_parts(outcome: Outcome, width: int) -> list[RenderableType]:
    """The differentiable strategy's evaluator, search and candidates: what the evaluator
    predicted beside what the exact model gave."""
    learned = outcome.learned
    assert learned is not None
    q = learned.evaluator
    parts: list[RenderableType] = [
        Text(f"evaluator: {q.train_pairs:,} training pairs"
             f"{' (read back from disk)' if q.reused else ''}; held-out ({q.heldout_pairs:,}"
             f" pairs): Spearman {shown(q.spearman, '.4f')}, Kendall {shown(q.kendall, '.4f')}"
             f", error energy {shown(q.mape_energy, '.2%')}, latency "
             f"{shown(q.mape_latency, '.2%')}, area {shown(q.mape_area, '.2%')}; "
             f"unseen accelerators ({q.unseen_pairs:,} pairs): Spearman "
             f"{shown(q.unseen_spearman, '.4f')}, Kendall {shown(q.unseen_kendall, '.4f')}"),
        Text(f"search: {learned.mode}, cost weight "
             + ", ".join(f"{w:g}" for w in learned.weights)
             + f", {learned.steps} steps; final choice {learned.trajectory[-1].network.label}"
             f" on {learned.trajectory[-1].accelerator.label}" if learned.trajectory
             else f"search: {learned.mode}"),
    ]
    designs = design_columns(outcome)
    # With trained accuracy, the supernet's accuracy beside stand-alone training's.
    trained = learned.mode == "trained accuracy"
    headers = ["#", *designs.headers(), "pred.", "exact", "ratio",
               *(["acc. supernet", "acc. trained"] if trained else [])]
    rows: list[list[str]] = []
    seen: set[tuple[object, object]] = set()
    for candidate in learned.candidates:
        pair = (candidate.network, candidate.accelerator)
        if pair in seen:
            continue
        seen.add(pair)
        # Scores and predictions are values to minimise (a maximised objective negated):
        # shown in the objective's own sense, as the JSON gives them.
        sign = -1.0 if outcome.plan.objective.startswith("maximize") else 1.0
        exact = outcome.scores[pair]
        predicted = candidate.predicted.objective
        row = [str(len(rows) + 1), *designs.cells(outcome.results[pair]),
               shown(sign * predicted, ".5g"),
               f"{sign * exact:.5g}" if math.isfinite(exact) else
               "not finite" if outcome.failure(pair) == "" else "infeasible",
               shown(predicted / exact, ".3f") if math.isfinite(exact) and exact else ""]
        if trained:
            metrics = outcome.results[pair].metrics
            row += [_percent(candidate.predicted.accuracy),
                    _percent(None if metrics is None else metrics.accuracy)]
        rows.append(row)
    parts.extend(_tables(f"candidates re-checked with the exact model ({len(rows)}; "
                         "objective predicted by the evaluator and exact"
                         + ("; accuracy estimated by the supernet and trained stand-alone"
                            if trained else "") + ")", headers, rows,
                         {"#", "pred.", "exact", "ratio", "acc. supernet", "acc. trained"},
                         width))
    return parts


def _percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


def trajectory_figure(outcome: Outcome) -> object:
    """The differentiable search's trajectory: the loss and the expected cost per step,
    with the steps where the most likely network or accelerator changed marked."""
    import matplotlib.pyplot as plt

    learned = outcome.learned
    assert learned is not None
    steps = [s.step for s in learned.trajectory]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot(steps, [s.loss for s in learned.trajectory], color="tab:blue")
    left.set_xlabel("step")
    left.set_ylabel("loss")
    left.set_title("loss")
    costs = [s.expected_cost for s in learned.trajectory]
    right.plot(steps, costs, color="tab:orange", label="expected objective (evaluator)")
    # The answer as the objective is written, as the expected cost is (scores are negated
    # for a maximised objective: its line was drawn below zero, off the log axis, while the
    # legend listed it).
    best = outcome.best
    answer = None if best is None else \
        (-1.0 if outcome.plan.objective.startswith("maximize") else 1.0) * \
        outcome.scores[(best.network, best.accelerator)]
    shown_values = [v for v in [*costs, *([] if answer is None else [answer])]
                    if math.isfinite(v)]
    if shown_values and min(shown_values) > 0:
        right.set_yscale("log")
    right.set_xlabel("step")
    right.set_ylabel(outcome.plan.objective)
    right.set_title("expected cost")
    changes = [s.step for previous, s in zip(learned.trajectory, learned.trajectory[1:],
                                             strict=False)
               if (s.network, s.accelerator) != (previous.network, previous.accelerator)]
    for k, step in enumerate(changes):
        right.axvline(step, color="grey", linewidth=0.6, linestyle=":",
                      label="choice changed" if k == 0 else None)
    if answer is not None and math.isfinite(answer):
        right.axhline(answer, color="tab:green", linestyle="--", label="answer (exact)")
    right.legend(fontsize="small")
    last = learned.trajectory[-1] if learned.trajectory else None
    figure.suptitle(f"differentiable search ({learned.mode}, cost weight "
                    f"{learned.cost_weight:g})" + ("" if last is None else
                                                   f": ends on {last.network.label}"))
    figure.tight_layout()
    return figure


def plot_trajectory(outcome: Outcome, path: Path) -> bool:
    """Write `trajectory_figure` as a PNG; False when matplotlib is not installed or the
    outcome is not a differentiable search's."""
    if outcome.learned is None:
        return False
    return save_png(lambda: trajectory_figure(outcome), path, dpi=120)


_ENERGY_UNITS = (("J", 1e12), ("mJ", 1e9), ("uJ", 1e6), ("nJ", 1e3), ("pJ", 1.0))
_TIME_UNITS = (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9))


def _unit(values: Sequence[float], units: tuple[tuple[str, float], ...]) -> tuple[str, float]:
    """The largest unit the median of `values` is at least one of."""
    middle = sorted(values)[len(values) // 2] if values else 0.0
    return next(((u, scale) for u, scale in units if abs(middle) >= scale), units[-1])


def _front_2d(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the (x, y) points no other point dominates (both minimised), by x."""
    order = sorted(range(len(points)), key=lambda i: points[i])
    front, best_y = [], math.inf
    for i in order:
        if points[i][1] < best_y:
            front.append(i)
            best_y = points[i][1]
    return front


def colour_by(outcome: Outcome) -> tuple[str, dict[Pair, str]]:
    """What colours the points: the network space when there are several (the family),
    else the varying parameter whose values move the objective most (the ratio of the
    largest to the smallest per-value median score). Returns its name and each feasible
    pair's group."""
    feasible = [pair for pair, score in outcome.scores.items() if math.isfinite(score)]
    if len({pair[0].space for pair in feasible}) > 1:
        return "network", {pair: pair[0].space for pair in feasible}
    best_name, best_spread = "", 1.0
    groups: dict[Pair, str] = {}
    for index, prefix in ((0, "network"), (1, "accelerator")):
        names = sorted({k for pair in feasible for k, _ in pair[index].point})
        for name in names:
            by_value: dict[str, list[float]] = {}
            for pair in feasible:
                texts = dict(zip((k for k, _ in pair[index].point), pair[index].texts or
                                 tuple(str(v) for _, v in pair[index].point), strict=True))
                by_value.setdefault(texts.get(name, "-"), []).append(
                    abs(outcome.scores[pair]))
            if len(by_value) < 2:
                continue
            medians = [sorted(v)[len(v) // 2] for v in by_value.values()]
            spread = max(medians) / min(medians) if min(medians) > 0 else math.inf
            if spread > best_spread:
                best_name, best_spread = f"{prefix} {name}", spread
                groups = {}
                for pair in feasible:
                    texts = dict(zip((k for k, _ in pair[index].point), pair[index].texts
                                     or tuple(str(v) for _, v in pair[index].point),
                                     strict=True))
                    groups[pair] = f"{name}={texts.get(name, '-')}"
    if not best_name:
        return "", {pair: "" for pair in feasible}
    return best_name, groups


_OBJECTIVE_UNITS = {"edp": "pJ*s", "energy": "pJ", "latency": "s", "area": "mm2",
                    "cycles": "cycles"}
_EDP_UNITS = (("J*s", 1e12), ("mJ*s", 1e9), ("uJ*s", 1e6), ("nJ*s", 1e3), ("pJ*s", 1.0))
"""EDP in pJ*s (the objective's base units) to engineering units."""
_SCALED_UNITS = {"edp": _EDP_UNITS, "energy": _ENERGY_UNITS, "latency": _TIME_UNITS}


def _accuracy_axis(outcome: Outcome, feasible: Sequence[Pair]) -> tuple[str, dict[Pair, float]]:
    """What the accuracy panel plots against accuracy: the objective that was optimised
    (with its sign as written), or the EDP when the objective is accuracy itself. Returns
    the axis label and each pair's value."""
    objective = outcome.plan.objective
    sense, _, expression = objective.partition(" ")
    if "accuracy" not in expression:
        sign = -1.0 if sense == "maximize" else 1.0
        name = expression.strip()
        values = {pair: sign * outcome.scores[pair] for pair in feasible}
        units = _SCALED_UNITS.get(name)
        if units is not None:  # engineering units, as the tables print them
            unit, scale = _unit([abs(v) for v in values.values()], units)
            return f"{expression} ({unit})", {p: v / scale for p, v in values.items()}
        unit_name = _OBJECTIVE_UNITS.get(name)
        label = f"{expression} ({unit_name})" if unit_name \
            else f"{expression} (base units: pJ, s, mm2)"
        return label, values
    edp = {pair: outcome.results[pair].metrics.edp  # type: ignore[union-attr]
           for pair in feasible}
    unit, scale = _unit(list(edp.values()), _EDP_UNITS)
    return f"EDP ({unit})", {p: v / scale for p, v in edp.items()}


def _plot_accuracy(axes: Any, outcome: Outcome, feasible: Sequence[Pair],
                   groups: dict[Pair, str]) -> None:
    """The accuracy panel: every feasible pair by accuracy (%) and `_accuracy_axis`, the
    2-D front of the two (highest accuracy, lowest value) as a step line, the winner
    starred and the accuracy limits drawn: the 3-D front as the 2-D front of the objective,
    so that no point drawn on a front is dominated in its own panel."""
    from matplotlib import ticker

    label, values = _accuracy_axis(outcome, feasible)
    what = label.split(" (")[0]
    known = [p for p in feasible
             if outcome.results[p].metrics.accuracy is not None]  # type: ignore[union-attr]
    accuracy = {p: 100 * outcome.results[p].metrics.accuracy  # type: ignore[union-attr,operator]
                for p in known}
    maximised = outcome.plan.objective.startswith("maximize") and "accuracy" not in label
    for group in sorted(set(groups.values())):
        members = [p for p in known if groups[p] == group]
        axes.scatter([accuracy[p] for p in members], [values[p] for p in members], s=14,
                     alpha=0.6)
    # The front: accuracy maximised, the value minimised (maximised when the objective is).
    points = [(-accuracy[p], -values[p] if maximised else values[p]) for p in known]
    front = [known[i] for i in _front_2d(points)]
    if front:
        axes.step([accuracy[p] for p in front], [values[p] for p in front], where="post",
                  color="black", linewidth=1, label=f"{what}-accuracy front")
    best = outcome.best
    if best is not None and (best.network, best.accelerator) in accuracy:
        pair = (best.network, best.accelerator)
        axes.scatter([accuracy[pair]], [values[pair]], marker="*", s=220, color="gold",
                     edgecolors="black", zorder=5, label=f"best ({outcome.plan.objective})")
    for constraint in outcome.constraints:
        if constraint.metric == "accuracy":
            axes.axvline(100 * constraint.value, color="tab:red", linestyle="--",
                         label=constraint.text)
    axes.set_xlabel("accuracy (%)")
    axes.set_ylabel(label)
    if values and min(values.values()) > 0:
        axes.set_yscale("log")
        plain = ticker.FuncFormatter(lambda value, _: f"{value:g}")
        axes.yaxis.set_major_formatter(plain)
        axes.yaxis.set_minor_formatter(plain)
    axes.set_title(f"{what} against accuracy")
    axes.legend(fontsize="small")


def pareto_figure(outcome: Outcome) -> object:
    """The matplotlib Figure of `plot_pareto` (needs matplotlib): every feasible pair by
    latency and energy in engineering units, coloured by `colour_by`, the (energy,
    latency) front joined, the winner starred, and the request's energy and latency limits
    drawn as lines. When pairs have accuracies, a second panel (small multiples) plots the
    optimised objective against accuracy with the front of those two (`_plot_accuracy`):
    the (energy, latency, accuracy) front is never drawn as points that look dominated."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    feasible = [pair for pair, score in outcome.scores.items() if math.isfinite(score)]
    metrics = {pair: outcome.results[pair].metrics for pair in feasible}
    energy_unit, energy_scale = _unit([m.energy_pj for m in metrics.values() if m], _ENERGY_UNITS)
    time_unit, time_scale = _unit([m.latency_s for m in metrics.values() if m], _TIME_UNITS)
    label, groups = colour_by(outcome)
    with_accuracy = any(m is not None and m.accuracy is not None for m in metrics.values())
    if with_accuracy:
        figure, (axes, right) = plt.subplots(1, 2, figsize=(12, 5))
    else:
        figure, axes = plt.subplots(figsize=(7, 5))
    for group in sorted(set(groups.values())):
        members = [pair for pair in feasible if groups[pair] == group]
        axes.scatter([metrics[p].latency_s / time_scale for p in members  # type: ignore[union-attr]
                      ], [metrics[p].energy_pj / energy_scale for p in members  # type: ignore[union-attr]
                          ], s=14, alpha=0.6, label=group or "evaluated")
    points = [(metrics[p].latency_s, metrics[p].energy_pj) for p in feasible]  # type: ignore[union-attr]
    front = [points[i] for i in _front_2d(points)]
    if front:
        axes.step([x / time_scale for x, _ in front], [y / energy_scale for _, y in front],
                  where="post", color="black", linewidth=1, label="energy-latency front")
    best = outcome.best
    if best is not None and best.metrics is not None:
        axes.scatter([best.metrics.latency_s / time_scale], [best.metrics.energy_pj / energy_scale],
                     marker="*", s=220, color="gold", edgecolors="black", zorder=5,
                     label=f"best ({outcome.plan.objective})")
    for constraint in outcome.constraints:
        if constraint.metric == "energy":
            axes.axhline(constraint.value / energy_scale, color="tab:red", linestyle="--",
                         label=constraint.text)
        elif constraint.metric == "latency":
            axes.axvline(constraint.value / time_scale, color="tab:red", linestyle="--",
                         label=constraint.text)
    axes.set_xlabel(f"latency ({time_unit})")
    axes.set_ylabel(f"energy ({energy_unit})")
    axes.set_xscale("log")
    axes.set_yscale("log")
    plain = ticker.FuncFormatter(lambda value, _: f"{value:g}")
    for axis in (axes.xaxis, axes.yaxis):
        axis.set_major_formatter(plain)
        axis.set_minor_formatter(plain)
    title = (f"{outcome.plan.objective}: {len(feasible):,} feasible of "
             f"{outcome.pairs_evaluated:,} evaluated pairs")
    if with_accuracy:
        _plot_accuracy(right, outcome, feasible, groups)
        figure.suptitle(title)
        axes.set_title("energy against latency")
    else:
        axes.set_title(title)
    axes.legend(title=label or None, fontsize="small")
    figure.tight_layout()
    return figure


def plot_pareto(outcome: Outcome, path: Path) -> bool:
    """Write `pareto_figure` as a PNG; False when matplotlib (the `plot` extra) is not
    installed."""
    return save_png(lambda: pareto_figure(outcome), path, dpi=120)
