"""Datasets that ship and stand-alone training: documented split sizes, seeded splits,
deterministic training, and networks that do not fit a dataset refused."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from dslc import api  # noqa: E402
from dslc.diagnostics.diagnostic import CannotRunError, UsageError  # noqa: E402
from dslc.learn.datasets import load  # noqa: E402
from dslc.learn.train import train_network  # noqa: E402

MLP = """
network mlp {
    input image: [1, 8, 8]
    layer h = relu(dense(flatten(image), out = 32))
    layer fc = dense(h, out = 10)
}
network wrong_input {
    input image: [1, 10, 10]
    layer fc = dense(flatten(image), out = 10)
}
network wrong_classes {
    input image: [64]
    layer fc = dense(image, out = 7)
}
"""


def _network(name: str) -> object:
    return api.compile(text=MLP).networks[name].instantiate()


def test_digits_split_is_the_documented_one() -> None:
    data = load("digits")
    # 1,797 images: 450 test (stratified), 1,347 train; [1, 8, 8] pixels in [0, 1].
    assert (len(data.train_y), len(data.test_y)) == (1347, 450)
    assert tuple(data.train_x.shape) == (1347, 1, 8, 8) and data.input_shape == (1, 8, 8)
    assert float(data.train_x.min()) == 0.0 and float(data.train_x.max()) == 1.0
    assert data.classes == 10
    # Stratified: each class's test share is within one image of a quarter of its count.
    total = torch.bincount(torch.cat([data.train_y, data.test_y]), minlength=10)
    test = torch.bincount(data.test_y, minlength=10)
    assert int(total.sum()) == 1797
    assert all(abs(float(t) - 450 * float(n) / 1797) <= 1 for t, n in zip(test, total,
                                                                           strict=True))


def test_splits_are_seeded() -> None:
    first, again, other = load("digits"), load("digits", seed=0), load("digits", seed=5)
    assert torch.equal(first.test_x, again.test_x)
    assert not torch.equal(first.test_x, other.test_x)
    # The same 1,797 images either way.
    assert torch.equal(torch.cat([first.train_x, first.test_x]).sum(dim=0),
                       torch.cat([other.train_x, other.test_x]).sum(dim=0))


def test_mnist1d_is_built_locally_with_the_documented_split() -> None:
    pytest.importorskip("mnist1d")
    import random

    import numpy as np

    from dslc.learn import datasets

    datasets._load.cache_clear()  # build it here, to watch the global generators
    numpy_before, python_before = np.random.get_state()[1].copy(), random.getstate()
    data = load("mnist1d")
    # mnist1d seeds numpy's and Python's global generators; load restores both.
    assert np.array_equal(np.random.get_state()[1], numpy_before)
    assert random.getstate() == python_before
    assert (len(data.train_y), len(data.test_y)) == (4000, 1000)
    assert tuple(data.test_x.shape) == (1000, 1, 1, 40)
    # make_dataset standardises the whole set: mean 0, standard deviation 1.
    everything = torch.cat([data.train_x, data.test_x])
    assert abs(float(everything.mean())) < 1e-4
    assert abs(float(everything.std()) - 1) < 1e-3
    assert set(torch.unique(data.train_y).tolist()) == set(range(10))


def test_unknown_dataset_or_split() -> None:
    with pytest.raises(UsageError, match="unknown dataset `cifar`"):
        load("cifar")
    with pytest.raises(UsageError, match="unknown split"):
        load("digits").split("holdout")


def test_fit_and_validation_partition_the_training_split() -> None:
    """`validation` (a fifth of the training split, seeded by the dataset's seed) and `fit`
    (the rest) are disjoint, together the training split, and never test samples."""
    data = load("digits")
    fit_x, fit_y = data.split("fit")
    validation_x, validation_y = data.split("validation")
    assert (len(fit_y), len(validation_y)) == (1347 - 269, 269)  # round(0.2 x 1,347)
    rows = data.validation_rows()
    assert list(rows) == sorted(set(rows.tolist())) and len(rows) == 269
    assert torch.equal(validation_x, data.train_x[torch.from_numpy(rows)])
    # Together the training split, sample for sample (as multisets of rows).
    together = torch.cat([fit_x, validation_x]).reshape(1347, -1)
    assert torch.equal(together.sum(dim=0), data.train_x.reshape(1347, -1).sum(dim=0))
    assert torch.equal(torch.sort(torch.cat([fit_y, validation_y])).values,
                       torch.sort(data.train_y).values)
    # Seeded: the same rows again; another dataset seed draws others.
    assert list(load("digits").validation_rows()) == list(rows)
    assert list(load("digits", seed=5).validation_rows()) != list(rows)


def test_training_is_deterministic_and_learns() -> None:
    network = _network("mlp")
    first = train_network(network, "digits", epochs=2, seed=3)
    again = train_network(network, "digits", epochs=2, seed=3)
    other = train_network(network, "digits", epochs=2, seed=4)
    assert first.accuracy == again.accuracy and first.train_accuracy == again.train_accuracy
    # 64*32 + 32 + 32*10 + 10 parameters.
    assert first.parameters == 64 * 32 + 32 + 32 * 10 + 10
    # Chance is 10%; two epochs of an MLP on digits get far above it.
    assert first.accuracy > 0.8 and other.accuracy > 0.8
    # The accuracy is a count of the 450 test images.
    assert (first.accuracy * 450) == pytest.approx(round(first.accuracy * 450))


def test_networks_that_do_not_fit_are_refused() -> None:
    with pytest.raises(CannotRunError, match=r"input is \[1, 10, 10\] but the samples are "
                       r"\[1, 8, 8\]"):
        train_network(_network("wrong_input"), "digits", epochs=1, seed=1)
    with pytest.raises(CannotRunError, match="outputs 7 values per sample; the dataset has "
                       "10 classes"):
        train_network(_network("wrong_classes"), "digits", epochs=1, seed=1)
