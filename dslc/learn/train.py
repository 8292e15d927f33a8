"""Stand-alone training: a network spec trained on a shipped dataset, its test accuracy.

Owns `train_network(network, dataset, *, epochs, seed) -> TrainResult`, `evaluate`,
`check_input(network, dataset)` and `TRAINING_VERSION` (in every stored result's key: a
change to the recipe below must bump it, so that no store reads back an accuracy the
current code would not give).

The recipe (TRAINING_VERSION 1): `NetworkModule(network)` initialised after
`torch.manual_seed(seed)`; Adam, learning rate 3e-3, no weight decay; mini-batches of 32 in
an order drawn from a generator seeded with `seed` (a new permutation each epoch);
cross-entropy on the network's output flattened to the classes; `epochs` passes over the
training split; then the accuracy on the test split (the number reported) and on the
training split. Training runs on one thread (torch.set_num_threads(1) for its duration,
restored after) with deterministic algorithms, so the same seed gives the same accuracy.

It does not decide which networks to train or remember results (dslc.codesign.trained
does, through the result store).
"""

from __future__ import annotations

from dslc.learn import require

require("training networks")  # a CannotRunError with the pip line, not an ImportError

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dslc.diagnostics.diagnostic import CannotRunError
from dslc.learn.datasets import Dataset, load
from dslc.learn.modules import NetworkModule
from dslc.spec.codesign import dataset_input_problem
from dslc.spec.network import NetworkSpec

TRAINING_VERSION = 1
"""The training recipe's version, in every stored accuracy's key."""
BATCH = 32
LEARNING_RATE = 3e-3
EVAL_BATCH = 512


@dataclass(frozen=True, slots=True)
class TrainResult:
    """What training one network gave."""

    accuracy: float
    """Test accuracy, a fraction: the number reported."""
    train_accuracy: float
    """Accuracy on the training split after the last epoch."""
    seconds: float
    """Wall time of the training and both evaluations (not of loading the data)."""
    parameters: int
    """Learned parameters (weights, biases, normalisation)."""


def check_input(network: NetworkSpec, dataset: Dataset) -> None:
    """Raise CannotRunError when the network cannot take the dataset's samples or does not
    output one score per class."""
    if len(network.inputs) != 1:
        raise CannotRunError(f"network `{network.name}` has {len(network.inputs)} inputs; "
                             f"training on `{dataset.name}` needs exactly one")
    problem = dataset_input_problem(network.inputs[0].shape, dataset.name)
    if problem is not None:
        raise CannotRunError(f"network `{network.name}` cannot train on `{dataset.name}`: "
                             f"{problem}")


def _scores(module: NetworkModule, x: torch.Tensor, classes: int) -> torch.Tensor:
    out: torch.Tensor = module(x.reshape(x.shape[0], *module.network.inputs[0].shape))
    out = out.reshape(out.shape[0], -1)
    if out.shape[1] != classes:
        raise CannotRunError(f"network `{module.network.name}` outputs "
                             f"{out.shape[1]} values per sample; the dataset has {classes} "
                             "classes (end the network with `dense(.., out = "
                             f"{classes})`)")
    return out


@contextmanager
def deterministic() -> Iterator[None]:
    """One thread and deterministic algorithms for the duration (restored after)."""
    threads = torch.get_num_threads()
    was = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was)
        torch.set_num_threads(threads)


def evaluate(module: NetworkModule, x: torch.Tensor, y: torch.Tensor, classes: int) -> float:
    """The fraction of samples whose highest score is their label (evaluation mode)."""
    module.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(y), EVAL_BATCH):
            scores = _scores(module, x[start:start + EVAL_BATCH], classes)
            correct += int((scores.argmax(dim=1) == y[start:start + EVAL_BATCH]).sum())
    return correct / len(y)


def train_network(network: NetworkSpec, dataset: str | Dataset, *, epochs: int,
                  seed: int) -> TrainResult:
    """Train `network` on `dataset` (a name, or a loaded Dataset) for `epochs` from `seed`;
    see the module docstring for the recipe. Raises CannotRunError when the network does
    not fit the dataset."""
    data = load(dataset) if isinstance(dataset, str) else dataset
    check_input(network, data)
    if epochs < 1:
        raise CannotRunError(f"training needs at least one epoch, got {epochs}")
    with deterministic():
        start = time.perf_counter()
        torch.manual_seed(seed)
        module = NetworkModule(network)
        optimizer = torch.optim.Adam(module.parameters(), lr=LEARNING_RATE)
        order = torch.Generator().manual_seed(seed)
        x, y = data.train_x, data.train_y
        for _ in range(epochs):
            module.train()
            permutation = torch.randperm(len(y), generator=order)
            for first in range(0, len(y), BATCH):
                batch = permutation[first:first + BATCH]
                if len(batch) < 2:
                    continue  # batch statistics need two samples
                loss = F.cross_entropy(_scores(module, x[batch], data.classes), y[batch])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
        test = evaluate(module, data.test_x, data.test_y, data.classes)
        train = evaluate(module, x, y, data.classes)
        seconds = time.perf_counter() - start
    return TrainResult(test, train, seconds, sum(p.numel() for p in module.parameters()))
