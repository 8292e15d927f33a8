"""`strategy = differentiable`: the evaluator, the search, and the exact re-check, as one run.

In: a differentiable `Plan`, the `Request`, its `PairEvaluator` (the exact model and the
result store) and the pair bounds. Out: an `Outcome` (dslc.codesign.planner) whose pairs are
every pair costed exactly (the evaluator's samples and the re-checked candidates), whose
`best` is the best re-checked candidate by the exact model (never the evaluator's word),
and whose `learned` holds the evaluator's quality, the main search's trajectory and every
candidate with what the evaluator predicted for it. The answer is `unverified` (with the
gap to the pair bounds when the objective has them), or `certified` when that gap is exactly
1 with nothing unproved (dslc.codesign.planner.Session.finish).

One search per cost weight: the request's `cost_weight`, then each of `weights`; each
proposes `candidates` pairs, and all of them are evaluated exactly. With `accuracy =
trained(...)` a weight-sharing supernet (dslc.learn.supernet, seeded by the search's seed)
is trained first (SUPERNET_EPOCHS x the request's epochs, on the `fit` part of the training
split) and measures every network's accuracy with its inherited weights once on the
`validation` part (ESTIMATE_SPLIT; never the test split the answer's accuracy is reported
on): the searches take those as the networks' accuracies. The proposed networks alone are
then trained stand-alone (dslc.codesign.trained: or read back from the store), and their
pairs carry that accuracy.
With an accuracy lower bound, refinement rounds (`_refine`) then add networks that may
meet it and beat the answer so far. The supernet's and the evaluator's words only choose
what to train and cost: the answer is the exact model's and training's.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dslc.codesign.bounds import PairBounds
from dslc.codesign.dance.evaluator import (
    LearnedSpace,
    Settings,
    TrainedEvaluator,
    needs_torch,
    train_evaluator,
)
from dslc.codesign.dance.search import PREDICT_ALL, network_costs, search
from dslc.codesign.designs import Design
from dslc.codesign.evaluate import Pair, PairEvaluator
from dslc.codesign.learned import Candidate, LearnedSearch, TrajectoryStep, shown
from dslc.codesign.metrics import kendall
from dslc.codesign.planner import (
    REFINE_ROUNDS,
    Outcome,
    PhaseProgress,
    Plan,
    Session,
    session,
)
from dslc.codesign.trained import trained_accuracies
from dslc.diagnostics.diagnostic import CannotRunError
from dslc.spec.codesign import ConstraintSpec, TrainedAccuracy

FloatArray = npt.NDArray[np.float64]

SUPERNET_EPOCHS = 3
"""The supernet's weights train for this many times the request's `trained(epochs)` before
the search (single-path, uniform sampling)."""
EVALUATOR_SLACK = 0.10
"""A refinement round considers networks whose predicted cost is below the answer's
exact objective times 1 + this: a margin for the evaluator's error (a few percent on the
held-out pairs of examples/codesign.cd; more on some pairs: docs/design/differentiable.md)."""
ESTIMATE_SPLIT = "validation"
"""The split the supernet's accuracy of each network is measured on: held out of its
training (which uses `fit`, the rest of the training split), and not the test split, on
which the stand-alone accuracy of the answer is reported (docs/design/differentiable.md)."""
SUPERNET_SPLIT = "fit"
"""The split the supernet's shared weights are trained on."""


def accuracy_mode(accuracies: int, networks: int, trained: bool = False) -> str:
    """`trained accuracy` with `accuracy = trained(...)` (a supernet), `known accuracy`
    when every network's accuracy is known, else `cost-only`."""
    if trained:
        return "trained accuracy"
    return "known accuracy" if networks and accuracies == networks else "cost-only"


def _retrain(running: Session, evaluator: PairEvaluator, source: TrainedAccuracy,
             pairs: list[Pair]) -> dict[Design, float]:
    """Train the networks of `pairs` stand-alone (or read them back) and record every
    evaluated pair of theirs with that accuracy (the re-checked ones and the evaluator's
    samples alike: a sample of a network trained here is then ranked, and the log says
    when it beats the answer); returns every network's accuracy."""
    networks = list(dict.fromkeys(network for network, _ in pairs))
    accuracies = trained_accuracies(source, networks, evaluator.built, evaluator.store,
                                    evaluator.request.key)
    running.attach_accuracies(accuracies)
    return accuracies


def _refine(running: Session, evaluator: PairEvaluator, source: TrainedAccuracy,
            trained: TrainedEvaluator, space: LearnedSpace, estimates: FloatArray,
            limits: list[ConstraintSpec], accuracies: dict[Design, float],
            pairs: list[Pair], log: list[str]) -> list[Candidate]:
    """Refinement rounds for an accuracy constraint with trained accuracy (updates
    `accuracies` and `pairs`; returns the new candidates).

    The supernet's accuracy is an estimate that stand-alone training corrects by up to
    `optimism`: the largest amount by which a network trained so far beat its estimate
    (0 when none did). A network not trained yet *may* meet the constraint when its
    estimate plus that optimism does, and *may* beat the answer so far when the
    evaluator's cost on its best accelerator is below the answer's exact objective worsened
    by EVALUATOR_SLACK of its size (`_slack`: x 1.1 for a positive objective, x 0.9 for a
    maximised one's negated score). Each round proposes up to ceil(candidates / 2) such networks,
    cheapest predicted first: each one's best predicted accelerator, then each one's second
    best, ..., to `candidates` pairs; they are trained stand-alone and re-checked like the
    sweep's proposals, and the next round starts from the new answer and optimism. Stops
    when no network qualifies or after REFINE_ROUNDS. (The optimism is the error the
    supernet has been seen to make, not a bound on it: a network it underrates by more
    can still be missed.)"""
    settings = evaluator.request.spec.differentiable
    n, m = len(space.networks), len(space.accelerators)
    accelerators = list(range(m)) if n * m <= PREDICT_ALL else sorted(
        {space.accelerators.index(a) for _, a in pairs})
    costs = network_costs(trained, space, evaluator.request.spec.objective,
                          evaluator.request.spec.constraints, estimates, accelerators)
    index = {d: i for i, d in enumerate(space.networks)}
    per_round = max(1, math.ceil(settings.candidates / 2))
    found: list[Candidate] = []
    for round_ in range(1, REFINE_ROUNDS + 1):
        optimism = max([0.0, *(accuracies[d] - float(estimates[index[d]])
                               for d in accuracies)])
        limit = _slack(min((running.score(p) for p in pairs), default=math.inf))
        todo: list[int] = []
        for i in sorted(range(n), key=lambda i: (costs.cost(i), i)):
            cost = costs.cost(i)
            if not math.isfinite(cost) or cost >= limit:
                break
            if space.networks[i] in accuracies or not all(
                    _meets(limit, float(estimates[i]) + optimism) for limit in limits):
                continue
            todo.append(i)
            if len(todo) == per_round:
                break
        if not todo:
            break
        rows = costs.rows_of(todo, settings.candidates)
        new = [Candidate(space.networks[int(costs.pairs[k, 0])],
                         space.accelerators[int(costs.pairs[k, 1])], costs.prediction(k),
                         None, round_) for k in rows]
        fresh = list(dict.fromkeys((c.network, c.accelerator) for c in new))
        running.evaluate(f"refine {round_}", fresh)
        accuracies.update(_retrain(running, evaluator, source, fresh))
        pairs += [p for p in fresh if p not in pairs]
        found += new
        log.append(f"refinement round {round_}: optimism {optimism:.1%}, "
                   f"{len(todo)} networks trained stand-alone, {len(fresh)} pairs re-checked")
    return found


def _slack(best: float) -> float:
    """The predicted cost a network must be below to be worth training in a refinement
    round: the answer's exact objective `best` worsened by EVALUATOR_SLACK of its size, in
    the objective's own sense (lower is better). A maximised objective's values are
    negated: `best x (1 + slack)` was then *better* than the answer (-11 for -10), and
    networks predicted to beat the answer by less than the slack were never tried. inf
    (no answer yet) lets every network qualify; -inf none."""
    if not math.isfinite(best):
        return best
    return best + abs(best) * EVALUATOR_SLACK


def _meets(limit: ConstraintSpec, value: float) -> bool:
    return value >= limit.value if limit.op == ">=" else value > limit.value


def run_differentiable(plan: Plan, evaluator: PairEvaluator, *,
                       bounds: PairBounds | None = None, jobs: int = 1,
                       scheduler: str | None = None, progress: PhaseProgress | None = None,
                       directory: Path | None = None) -> Outcome:
    """Run the plan (see the module docstring)."""
    needs_torch()
    request = evaluator.request
    spec = request.spec
    settings = spec.differentiable
    running = session(plan, spec, request.network_designs, request.accelerator_designs,
                      evaluator, bounds=bounds, jobs=jobs, scheduler=scheduler,
                      progress=progress)
    trained, quality, space, sampled = train_evaluator(
        evaluator, Settings(settings.train_fraction, settings.heldout_pairs, settings.seed),
        directory=directory, jobs=jobs, scheduler=scheduler, progress=progress)
    running.record(sampled)
    source = spec.accuracy
    mode = accuracy_mode(len(request.accuracies), len(space.networks),
                         isinstance(source, TrainedAccuracy))
    estimates = None
    log: list[str] = []
    if isinstance(source, TrainedAccuracy):
        from dslc.learn import require

        require("the differentiable strategy with trained accuracy")
        from dslc.learn.supernet import Supernet

        if len(spec.networks) != 1:
            raise CannotRunError("the differentiable strategy with trained accuracy searches "
                                 "one network space (its supernet)")
        # Seeded by the search's seed (the supernet is part of the search); `trained(seed)`
        # seeds the stand-alone training, whose accuracy is the answer's.
        supernet = Supernet(request.networks[spec.networks[0]], source.dataset,
                            seed=settings.seed)
        epochs = SUPERNET_EPOCHS * source.epochs
        supernet.train_weights(epochs, seed=settings.seed, split=SUPERNET_SPLIT)
        # The supernet's word on every network, once: the search's accuracy term is then an
        # exact expectation, and its accuracy constraints penalties, as with known accuracy.
        estimates = np.array([supernet.accuracy(dict(d.point), ESTIMATE_SPLIT)
                              for d in space.networks])
        log.append(f"supernet: {epochs} epochs of single-path training on {source.dataset} "
                   f"({SUPERNET_SPLIT} split); "
                   f"its {ESTIMATE_SPLIT} accuracy of the {len(estimates)} networks, "
                   f"{estimates.min():.1%} to {estimates.max():.1%}")
    weights = (settings.cost_weight, *settings.weights)
    candidates: list[Candidate] = []
    trajectory: tuple[TrajectoryStep, ...] = ()
    for k, weight in enumerate(weights):
        found = search(trained, space, spec.objective, spec.constraints, cost_weight=weight,
                       steps=settings.steps, seed=settings.seed, accuracy=mode != "cost-only",
                       count=settings.candidates, estimates=estimates)
        if k == 0:
            trajectory = found.trajectory
        candidates += [Candidate(space.networks[i], space.accelerators[j], predicted, weight)
                       for i, j, predicted, _ in found.proposals]
    pairs: list[Pair] = list(dict.fromkeys((c.network, c.accelerator) for c in candidates))
    running.evaluate("re-check", pairs)
    if isinstance(source, TrainedAccuracy):
        assert estimates is not None
        # The proposed networks, trained stand-alone (or read back from the store): their
        # accuracy is training's word, not the supernet's.
        accuracies = _retrain(running, evaluator, source, pairs)
        limits = [c for c in spec.constraints
                  if c.metric == "accuracy" and c.op in (">=", ">")]
        if limits:
            candidates += _refine(running, evaluator, source, trained, space, estimates,
                                  limits, accuracies, pairs, log)
        networks = list(accuracies)
        inherited = {c.network: c.predicted.accuracy for c in candidates}
        if len(networks) >= 3:
            tau = kendall(np.array([inherited[n] or 0.0 for n in networks]),
                          np.array([accuracies[n] for n in networks]))
            log.append(f"supernet against stand-alone accuracy over the {len(networks)} "
                       f"networks trained: Kendall {tau:.3f}")
    # The answer is the best candidate whose objective is a finite number, as the planner
    # ranks pairs (a maximised objective that overflows scores -inf: it cannot be ranked,
    # and it took the first place here, leaving no answer though finite ones were there).
    scored = sorted((running.score(pair), k, pair) for k, pair in enumerate(pairs)
                    if math.isfinite(running.score(pair)))
    answer = scored[0][2] if scored else None
    if answer is None:
        unranked = [pair for pair in pairs if running.meets(pair)]
        log.append(
            f"the objective is not a finite number for any of the {len(unranked)} re-checked "
            "candidates that meet the constraints, so none can be ranked: no answer (write "
            "the objective so that it stays finite)" if unranked else
            f"none of the {len(pairs)} re-checked candidates meets the constraints "
            "by the exact model: no answer")
    log += [f"evaluator: trained on {quality.train_pairs:,} pairs"
           f"{' (read back)' if quality.reused else ''}; held-out Spearman "
           f"{shown(quality.spearman, '.4f')}, Kendall {shown(quality.kendall, '.4f')}",
           *([quality.replaced] if quality.replaced else []),
           f"re-checked {len(pairs)} candidates with the exact model"]
    sampled_best = min((score for score in map(running.score, sampled)
                        if math.isfinite(score)), default=math.inf)
    if answer is not None and sampled_best < scored[0][0]:
        log.append("a pair costed to train the evaluator beats the search's answer "
                   f"({sampled_best:.6g} < {scored[0][0]:.6g})")
    learned = LearnedSearch(
        quality, mode, settings.cost_weight, settings.steps, trajectory, tuple(candidates),
        answer, weights, () if estimates is None else tuple(
            (d, float(a)) for d, a in zip(space.networks, estimates, strict=True)))
    return running.finish(answer, learned, log)
