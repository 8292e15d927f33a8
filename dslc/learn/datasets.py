"""The datasets networks are trained on, built locally from packages (nothing downloads).

Owns `load(name, *, seed)` -> `Dataset` (train and test tensors, the input shape, the
classes). `digits`: scikit-learn's 1,797 8x8 handwritten digits (`load_digits`), pixels
scaled to [0, 1], shaped [1, 8, 8], split 1,347 train / 450 test, stratified by class with
`seed` (default 0). `mnist1d`: MNIST-1D (Greydanus, 2020), 5,000 40-sample 1-D signals built
by the `mnist1d` package's `make_dataset` from its generator seed (default 42, the published
dataset), shaped [1, 1, 40], its own split 4,000 train / 1,000 test. Both have 10 classes.
The input shapes are `dslc.spec.codesign.DATASETS`, which sema checks networks against
without importing this module.

Two more splits partition the training split, for choices made before the test split is
looked at (the differentiable search's supernet): `validation`, every fifth training sample
in a seeded permutation (VALIDATION_SHARE, at least one), and `fit`, the rest. Stand-alone
training uses the whole `train` split and reports `test` accuracy.

A dataset is built once per process and seed (about 0.3 s for digits, 7 s for mnist1d here)
and kept. Building mnist1d seeds numpy's and Python's global random generators (the
package's way); their states are restored afterwards. It does not train (dslc.learn.train).
"""

from __future__ import annotations

from dslc.learn import require

require("the datasets")  # a CannotRunError with the pip line, not an ImportError

import functools
import random
from dataclasses import dataclass

import numpy as np
import torch

from dslc.diagnostics.diagnostic import UsageError
from dslc.spec.codesign import DATASET_CLASSES, DATASETS

DEFAULT_SEEDS = {"digits": 0, "mnist1d": 42}
"""The seed of each dataset's standard split: digits' stratified split, mnist1d's generator
(42 is the seed of the published MNIST-1D)."""
DIGITS_TEST = 450
"""Test images of the digits split (a quarter of 1,797, rounded up); the rest train."""
VALIDATION_SHARE = 0.2
"""The share of the training split held out as `validation` (the rest is `fit`)."""


@dataclass(frozen=True, slots=True)
class Dataset:
    """A classification dataset as tensors: inputs float32 [n, *input_shape], labels int64."""

    name: str
    seed: int
    """The seed the split (digits) or the signals (mnist1d) were made with."""
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    input_shape: tuple[int, ...]
    """One sample's shape, batch excluded."""
    classes: int

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The inputs and labels of `train`, `test`, or the training split's two parts,
        `fit` and `validation` (module docstring)."""
        if name == "train":
            return self.train_x, self.train_y
        if name == "test":
            return self.test_x, self.test_y
        if name in ("fit", "validation"):
            rows = self.validation_rows()
            if name == "fit":
                rows = np.setdiff1d(np.arange(len(self.train_y)), rows)
            index = torch.from_numpy(rows)
            return self.train_x[index], self.train_y[index]
        raise UsageError(f"unknown split `{name}` (train, test, fit, validation)")

    def validation_rows(self) -> np.ndarray:
        """The training split's rows held out as `validation`, in ascending order: the first
        VALIDATION_SHARE of a permutation seeded by the dataset's seed."""
        count = len(self.train_y)
        size = max(1, round(VALIDATION_SHARE * count))
        permutation = np.random.default_rng(self.seed).permutation(count)
        return np.sort(permutation[:size])


def load(name: str, *, seed: int | None = None) -> Dataset:
    """The dataset `name` (digits or mnist1d) with its split made from `seed` (None: the
    standard one, DEFAULT_SEEDS). Raises UsageError for an unknown name."""
    if name not in DATASETS:
        raise UsageError(f"unknown dataset `{name}` ({', '.join(DATASETS)})")
    return _load(name, DEFAULT_SEEDS[name] if seed is None else seed)


@functools.lru_cache(maxsize=8)
def _load(name: str, seed: int) -> Dataset:
    if name == "digits":
        train_x, train_y, test_x, test_y = _digits(seed)
    else:
        train_x, train_y, test_x, test_y = _mnist1d(seed)
    shape = DATASETS[name]
    return Dataset(name, seed,
                   torch.from_numpy(train_x.astype(np.float32).reshape(-1, *shape)),
                   torch.from_numpy(train_y.astype(np.int64)),
                   torch.from_numpy(test_x.astype(np.float32).reshape(-1, *shape)),
                   torch.from_numpy(test_y.astype(np.int64)),
                   shape, DATASET_CLASSES)


Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _digits(seed: int) -> Arrays:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = np.asarray(digits.data, dtype=np.float64) / 16.0
    y = np.asarray(digits.target, dtype=np.int64)
    train_x, test_x, train_y, test_y = train_test_split(
        x, y, test_size=DIGITS_TEST, stratify=y, random_state=seed)
    return train_x, train_y, test_x, test_y


def _mnist1d(seed: int) -> Arrays:
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:
        from dslc.diagnostics.diagnostic import CannotRunError
        from dslc.learn import INSTALL

        raise CannotRunError(f"the mnist1d dataset needs the `mnist1d` package: {INSTALL}"
                             ) from None
    args = get_dataset_args()
    args.seed = seed
    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)
    return (np.asarray(data["x"]), np.asarray(data["y"]),
            np.asarray(data["x_test"]), np.asarray(data["y_test"]))
