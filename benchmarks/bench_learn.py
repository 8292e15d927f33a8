"""Benchmark: stand-alone training of every network of the shipped spaces, and the supernet.

Run: `python benchmarks/bench_learn.py [--space digits|mnist1d|both] [--epochs 10]
[--seed 1] [--supernet-epochs 30] [--out benchmarks/results/learn_<space>.json]`.

For each space (dslc/std/networks/digits_space.cd on `digits`, mnist1d_space.cd on
`mnist1d`): trains every network with `dslc.learn.train.train_network` (the recipe of
`accuracy = trained(dataset = ..., epochs = 10, seed = 1)`, on one torch thread as that
recipe runs), and reports the test accuracies' spread (min, quartiles, max) and the seconds
per network (median, min, max, total; training and evaluation, data loading excluded). Then
trains a `Supernet` over the space (uniform single-path sampling, `--supernet-epochs`),
evaluates every point with the inherited weights and reports the Kendall tau between those
accuracies and the stand-alone ones. Writes every network's figures as JSON (`--out`).
Figures go in docs/performance.md and docs/design/differentiable.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from dslc import api
from dslc.learn.datasets import load
from dslc.learn.supernet import Supernet, kendall_tau
from dslc.learn.train import train_network

REPO = Path(__file__).resolve().parent.parent
SPACES = {"digits": ("digits_space.cd", "digits_space"),
          "mnist1d": ("mnist1d_space.cd", "mnist1d_space")}


def quartiles(values: list[float]) -> list[float]:
    ordered = sorted(values)
    q = statistics.quantiles(ordered, n=4)
    return [ordered[0], q[0], q[1], q[2], ordered[-1]]


def run(dataset: str, epochs: int, seed: int, supernet_epochs: int, out: Path | None) -> None:
    file, name = SPACES[dataset]
    space = api.compile(REPO / "dslc" / "std" / "networks" / file).networks[name]
    start = time.perf_counter()
    data = load(dataset)
    print(f"{dataset}: loaded in {time.perf_counter() - start:.1f} s; {space.size} networks, "
          f"{len(data.train_y)} train / {len(data.test_y)} test samples")
    rows = []
    for index, point in enumerate(space.points()):
        result = train_network(space.instantiate(point), data, epochs=epochs, seed=seed)
        rows.append({"network": space.label(point), "point": dict(point),
                     "accuracy": result.accuracy, "train_accuracy": result.train_accuracy,
                     "seconds": result.seconds, "parameters": result.parameters})
        print(f"  {index + 1:3d}/{space.size} {space.label(point):50s} "
              f"{100 * result.accuracy:5.1f}%  {result.seconds:5.1f} s", flush=True)
    accuracies = [r["accuracy"] for r in rows]
    seconds = [r["seconds"] for r in rows]
    print(f"{dataset}: test accuracy min/q1/median/q3/max "
          + " / ".join(f"{100 * a:.1f}%" for a in quartiles(accuracies)))
    print(f"{dataset}: seconds per network median {statistics.median(seconds):.2f}, "
          f"min {min(seconds):.2f}, max {max(seconds):.2f}, total {sum(seconds):.0f} "
          f"({epochs} epochs, 1 thread)")
    summary: dict[str, object] = {
        "dataset": dataset, "networks": space.size, "epochs": epochs, "seed": seed,
        "accuracy_quartiles": quartiles(accuracies),
        "seconds_median": statistics.median(seconds), "seconds_total": sum(seconds),
        "rows": rows}
    if supernet_epochs > 0:
        start = time.perf_counter()
        supernet = Supernet(space, data, seed=seed)
        losses = supernet.train_weights(supernet_epochs, seed=seed)
        inherited = [supernet.accuracy(r["point"]) for r in rows]
        took = time.perf_counter() - start
        tau = kendall_tau(inherited, accuracies)
        print(f"{dataset}: supernet {supernet_epochs} epochs (uniform single-path) in "
              f"{took:.0f} s, final loss {losses[-1]:.3f}; inherited accuracy "
              + " / ".join(f"{100 * a:.1f}%" for a in quartiles(inherited))
              + f"; Kendall tau with stand-alone {tau:.3f}")
        summary.update({"supernet_epochs": supernet_epochs, "supernet_seconds": took,
                        "supernet_losses": losses, "inherited": inherited,
                        "kendall_tau": tau})
    if out is not None:
        out.write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", choices=["digits", "mnist1d", "both"], default="both")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--supernet-epochs", type=int, default=30)
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON file (default benchmarks/results/learn_<space>.json)")
    args = parser.parse_args()
    for dataset in (["digits", "mnist1d"] if args.space == "both" else [args.space]):
        out = args.out or REPO / "benchmarks" / "results" / f"learn_{dataset}.json"
        run(dataset, args.epochs, args.seed, args.supernet_epochs, out)


if __name__ == "__main__":
    main()
