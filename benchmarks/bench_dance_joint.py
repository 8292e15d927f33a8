"""Benchmark: the joint (DANCE) search with trained accuracy against the exhaustive
accuracy-EDP front.

Run: `python benchmarks/bench_dance_joint.py [--seeds 1 2 3] [--jobs 2] [--store-dir DIR]
[--results FILE]` (slow: the reference trains every network of the space stand-alone once,
kept in a persistent store under --store-dir, and each seed trains its proposals again
from an empty store).

The request: examples/trained_dance.cd (the digits space, 72 networks, x 8 arrays = 576 pairs;
`accuracy = trained(dataset = digits, epochs = 10, seed = 1)`, `minimize edp`, `accuracy >=
97%`, `strategy = differentiable` with its `differentiable { ... }` settings, `seed = S`).

1. *Reference* (`reference.sqlite` under --store-dir, kept between runs): the same request
   without its accuracy constraint, exhaustive: every network trained stand-alone and
   every pair costed exactly. Its pairs give the exhaustive accuracy-EDP front (accuracy
   up, EDP down), and with the constraint, the constrained optimum.
2. *Each seed*, from an empty store (nothing trained, no pair): the joint search, whole
   (supernet, evaluator and its costed samples, the weight sweep's searches, the exact
   re-check and the stand-alone training of the proposed networks), timed: wall and CPU
   (this process and its workers) with the load average before and after. Reported: the
   answer against the front (on it: no pair has accuracy >= and EDP <= with one strict; or
   the smallest accuracy shortfall and EDP excess to a front pair that dominates it), its
   EDP against the constrained optimum, the hypervolume ratio of the front the sweep found
   (every re-checked pair with its stand-alone accuracy and exact EDP) to the exhaustive
   one, and Kendall's tau-b of the supernet's accuracy (LearnedSearch.estimates) against
   the stand-alone accuracy over all the space's networks.
3. *Determinism*: the first seed again on a copy of its store without the saved evaluator
   (the supernet, the evaluator and the searches run afresh; pairs and stand-alone
   accuracies read back): the same answer, candidates and trajectory, or not.

Hypervolume (docs/design/differentiable.md, "Joint search with trained accuracy"): in the
plane (accuracy, log10 EDP), normalised by the exhaustive pairs' ranges: x = (accuracy -
min) / (max - min), y = (log10 max EDP - log10 EDP) / (log10 max EDP - log10 min EDP), so
every pair lies in the unit square and the reference point is (0, 0) (the least accurate,
the most costly); the hypervolume of a set is the area it dominates above the reference.

Output: the text to --results (default benchmarks/results/dance_joint.txt) and the figures
as JSON beside it (dance_joint.json). Figures go in docs/performance.md and
docs/design/differentiable.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dslc import api
from dslc.codesign.metrics import kendall
from dslc.codesign.planner import Outcome

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "examples" / "trained_dance.cd"
RESULTS = ROOT / "benchmarks" / "results" / "dance_joint.txt"
ACCURACY_SLACK = 0.01
EDP_SLACK = 0.05
"""The target: the answer on the exhaustive front, or within 1 accuracy point and 5% EDP."""

Point = tuple[float, float]  # (accuracy fraction, EDP pJ*s)


def settings() -> str:
    found = re.search(r"differentiable\s*\{[^}]*\}", SPEC.read_text())
    if found is None:
        raise SystemExit("the spec must have a `differentiable { ... }` block")
    return " ".join(found.group(0).split())


def joint_text(seed: int) -> str:
    """The example with `seed = S` in its differentiable block."""
    text, count = re.subn(r"(differentiable\s*\{[^}]*seed\s*=\s*)\d+", rf"\g<1>{seed}",
                          SPEC.read_text())
    if count != 1:
        raise SystemExit("the differentiable block must set `seed`")
    return text


def reference_text() -> str:
    """The example without its accuracy constraint and search settings, exhaustive."""
    text, count = re.subn(r"\n\s*constraint\s+accuracy[^\n]*", "", SPEC.read_text())
    if count != 1:
        raise SystemExit("the spec must have exactly one accuracy constraint")
    text = re.sub(r"differentiable\s*\{[^}]*\}", "", text)
    return re.sub(r"strategy\s*=\s*\w+", "strategy = exhaustive", text)


def points(outcome: Outcome) -> dict[tuple[Any, Any], Point]:
    """Every pair of the outcome with an accuracy and metrics: (accuracy, EDP)."""
    found = {}
    for pair, result in outcome.results.items():
        m = result.metrics
        if m is not None and m.accuracy is not None:
            found[pair] = (float(m.accuracy), float(m.edp))
    return found


def front(values: list[Point]) -> list[Point]:
    """The non-dominated points (accuracy up, EDP down), most accurate first."""
    kept: list[Point] = []
    best = math.inf
    for a, e in sorted(set(values), key=lambda p: (-p[0], p[1])):
        if e < best:
            kept.append((a, e))
            best = e
    return kept


def hypervolume(values: list[Point], box: tuple[float, float, float, float]) -> float:
    """The normalised area `values` dominate above the reference (see the docstring)."""
    a_min, a_max, e_min, e_max = box
    xs = sorted((((a - a_min) / (a_max - a_min),
                  (math.log10(e_max) - math.log10(e)) /
                  (math.log10(e_max) - math.log10(e_min))) for a, e in front(values)),
                reverse=True)
    # most accurate first: a slice at accuracy x is covered up to the best cheapness of the
    # points at least that accurate
    area, height = 0.0, 0.0
    for k, (x, y) in enumerate(xs):
        height = max(height, y)
        area += (x - (xs[k + 1][0] if k + 1 < len(xs) else 0.0)) * height
    return area


def against_front(answer: Point, everything: list[Point]) -> tuple[bool, float, float]:
    """(on the front, accuracy shortfall, EDP excess as a fraction): the shortfall and
    excess to the dominating pair that is closest (the larger of the shortfall in points and
    the excess in 5%-units smallest); (True, 0, 0) when nothing dominates it."""
    a, e = answer
    dominating = [(fa, fe) for fa, fe in everything
                  if fa >= a and fe <= e and (fa > a or fe < e)]
    if not dominating:
        return True, 0.0, 0.0
    shortfall, excess = min(((fa - a, e / fe - 1.0) for fa, fe in dominating),
                            key=lambda d: max(d[0] / ACCURACY_SLACK, d[1] / EDP_SLACK))
    # the pairs that dominate it by more than both slacks at once
    return False, shortfall, excess


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_seed(seed: int, store: Path, jobs: int) -> tuple[Outcome, float, float, float, float]:
    program = api.compile(text=joint_text(seed), path=SPEC)
    load = os.getloadavg()[0]
    cpu, wall = cpu_seconds(), time.perf_counter()
    outcome = api.search(program, store=store, jobs=jobs).outcome
    return (outcome, time.perf_counter() - wall, cpu_seconds() - cpu, load,
            os.getloadavg()[0])


def signature(outcome: Outcome) -> dict[str, Any]:
    learned = outcome.learned
    assert learned is not None
    return {"answer": None if learned.answer is None else
            [learned.answer[0].label, learned.answer[1].label],
            "candidates": [[c.network.label, c.accelerator.label, c.cost_weight]
                           for c in learned.candidates],
            "losses": [s.loss for s in learned.trajectory],
            "estimates": [a for _, a in learned.estimates]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", nargs="*", type=int, default=[1, 2, 3])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--store-dir", type=Path, default=ROOT / ".dslc" / "bench_joint")
    parser.add_argument("--results", default=str(RESULTS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    out: list[str] = []
    figures: dict[str, Any] = {"settings": settings(), "seeds": {}}

    def say(line: str) -> None:
        print(line, flush=True)
        out.append(line)

    say(f"bench_dance_joint: {SPEC.relative_to(ROOT)}, --jobs {args.jobs}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, torch "
        f"{torch.__version__}, load average {os.getloadavg()[0]:.2f} at the start")
    say("settings: " + settings() + " (the seed replaced per run)")
    args.store_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    reference = api.search(api.compile(text=reference_text(), path=SPEC),
                           store=args.store_dir / "reference.sqlite", jobs=args.jobs).outcome
    exhaustive = points(reference)
    everything = list(exhaustive.values())
    accuracy = {n: a for (n, _), (a, _) in exhaustive.items()}
    feasible = [(e, a, pair) for pair, (a, e) in exhaustive.items() if a >= 0.97]
    optimum = min(feasible, key=lambda t: (t[0], t[2][0].label, t[2][1].label))
    box = (min(a for a, _ in everything), max(a for a, _ in everything),
           min(e for _, e in everything), max(e for _, e in everything))
    exhaustive_front = front(everything)
    hv_exhaustive = hypervolume(everything, box)
    say(f"reference: {len(exhaustive)} pairs ({len(accuracy)} networks trained stand-alone,"
        f" {reference.pairs_evaluated} pairs costed; {time.perf_counter() - started:.0f} s, "
        "read back when stored)")
    say(f"  exhaustive front: {len(exhaustive_front)} pairs, accuracy "
        f"{exhaustive_front[-1][0]:.1%} to {exhaustive_front[0][0]:.1%}, EDP "
        f"{exhaustive_front[-1][1]:.4g} to {exhaustive_front[0][1]:.4g} pJ*s; hypervolume "
        f"{hv_exhaustive:.4f} (normalised box: accuracy {box[0]:.1%} to {box[1]:.1%}, EDP "
        f"{box[2]:.4g} to {box[3]:.4g} pJ*s)")
    measured = ROOT / "benchmarks" / "results" / "learn_digits.json"
    if measured.is_file():
        # the stand-alone accuracies against bench_learn.py's, trained in another process
        rows = {r["network"]: r["accuracy"] for r in json.loads(measured.read_text())["rows"]}
        same = sum(rows.get(n.label) == a for n, a in accuracy.items())
        say(f"  stand-alone accuracies equal to benchmarks/results/learn_digits.json's: "
            f"{same} of {len(accuracy)}")
    say(f"  constrained optimum (accuracy >= 97%): {optimum[2][0].label} on "
        f"{optimum[2][1].label}, {exhaustive[optimum[2]][0]:.1%}, EDP {optimum[0]:.4g}")
    figures["reference"] = {"pairs": len(exhaustive), "front": exhaustive_front,
                            "hypervolume": hv_exhaustive, "box": box,
                            "optimum": [optimum[2][0].label, optimum[2][1].label,
                                        exhaustive[optimum[2]][0], optimum[0]]}
    signatures = {}
    for seed in args.seeds:
        directory = args.store_dir / f"seed{seed}"
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        outcome, wall, cpu, load0, load1 = run_seed(seed, directory / "pairs.sqlite",
                                                    args.jobs)
        learned = outcome.learned
        assert learned is not None
        signatures[seed] = signature(outcome)
        found = points(outcome)
        checked = {(c.network, c.accelerator) for c in learned.candidates}
        trained_networks = {n for n, _ in checked}
        swept = [found[p] for p in {(c.network, c.accelerator) for c in learned.candidates
                                    if c.round == 0} if p in found]
        every = [found[p] for p in checked if p in found]
        hv = hypervolume(swept, box)
        hv_all = hypervolume(every, box)
        rounds = max((c.round for c in learned.candidates), default=0)
        networks = sorted(accuracy, key=lambda n: n.label)
        estimates = dict(learned.estimates)
        tau = kendall(np.array([estimates[n] for n in networks]),
                      np.array([accuracy[n] for n in networks]))
        say(f"seed {seed}: {wall:.0f} s wall, {cpu:.0f} s CPU (load average {load0:.1f} "
            f"before, {load1:.1f} after); {outcome.pairs_evaluated} pairs costed exactly, "
            f"{len(checked)} re-checked ({len(swept)} proposed by the sweep, the rest by "
            f"{rounds} refinement rounds), {len(trained_networks)} networks trained "
            "stand-alone")
        record: dict[str, Any] = {"wall_s": wall, "cpu_s": cpu, "load": [load0, load1],
                                  "pairs_costed": outcome.pairs_evaluated,
                                  "rechecked": len(checked),
                                  "trained": len(trained_networks), "hypervolume": hv,
                                  "hypervolume_ratio": hv / hv_exhaustive,
                                  "hypervolume_all_ratio": hv_all / hv_exhaustive,
                                  "refinement_rounds": rounds, "kendall": tau,
                                  "sweep_front": front(swept),
                                  "log": list(outcome.log)}
        best = outcome.best
        if best is None or best.metrics is None:
            say("  answer: none feasible among the re-checked candidates")
        else:
            pair = (best.network, best.accelerator)
            answer = found[pair]
            on, shortfall, excess = against_front(answer, everything)
            within = on or (shortfall <= ACCURACY_SLACK and excess <= EDP_SLACK)
            predicted = next(c.predicted for c in learned.candidates
                             if (c.network, c.accelerator) == pair)
            say(f"  answer: {best.network.label} on {best.accelerator.label}: stand-alone "
                f"{answer[0]:.1%} (supernet {predicted.accuracy:.1%}), EDP {answer[1]:.4g} "
                f"(evaluator {predicted.energy_pj * predicted.latency_s:.4g}); "
                + ("on the exhaustive front" if on else
                   f"off the front by {shortfall * 100:.1f} accuracy points and "
                   f"{excess:.1%} EDP ({'within' if within else 'NOT within'} 1 point and "
                   "5%)") + f"; {answer[1] / optimum[0]:.4f}x the constrained optimum's EDP")
            record.update({"answer": [best.network.label, best.accelerator.label, *answer],
                           "on_front": on, "shortfall": shortfall, "excess": excess,
                           "within": within, "vs_optimum": answer[1] / optimum[0]})
        say(f"  the sweep's front: {len(front(swept))} pairs of its {len(swept)}; "
            f"hypervolume {hv:.4f} = {hv / hv_exhaustive:.4f} of the exhaustive (with the "
            f"refinement's pairs: {hv_all / hv_exhaustive:.4f}); supernet vs stand-alone "
            f"Kendall tau-b over all {len(networks)} networks {tau:.3f}")
        figures["seeds"][str(seed)] = record
    seed = args.seeds[0]
    again = args.store_dir / f"seed{seed}-again"
    shutil.rmtree(again, ignore_errors=True)
    again.mkdir(parents=True)
    shutil.copy(args.store_dir / f"seed{seed}" / "pairs.sqlite", again / "pairs.sqlite")
    outcome, wall, cpu, _, _ = run_seed(seed, again / "pairs.sqlite", args.jobs)
    same = signature(outcome) == signatures[seed]
    say(f"seed {seed} again (supernet, evaluator and searches afresh; pairs and stand-alone "
        f"accuracies read back, {wall:.0f} s): "
        + ("the same answer, candidates, trajectory and supernet estimates" if same
           else "DIFFERENT"))
    figures["deterministic"] = same
    load = os.getloadavg()
    say(f"load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min) at the end")
    if args.results != "-":
        Path(args.results).write_text("\n".join(out) + "\n")
        Path(args.results).with_suffix(".json").write_text(
            json.dumps(figures, indent=1, sort_keys=True) + "\n")
    sys.exit(0)


if __name__ == "__main__":
    main()
