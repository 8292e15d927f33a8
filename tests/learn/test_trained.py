"""`accuracy = trained(...)` end to end: every network of a request trained (the same
figures as `train_network`), stored beside the pairs, read back by the next run without
training, retrained for another seed, deterministic."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from dslc import api  # noqa: E402
from dslc.learn import train  # noqa: E402

SPEC = """
network mlp_space {
    input image: [1, 8, 8]
    param h in {4, 32}
    layer hidden = relu(dense(flatten(image), out = h))
    layer fc = dense(hidden, out = 10)
}
accelerator acc {
    word = 16b  clock = 200MHz
    memory DRAM { width = 64b, read = 2nJ, write = 2nJ }
    memory GLB { size = 16KiB, width = 64b }
    fanout PE { mesh = 4 x 4, dataflow = weight_stationary }
    memory RF { size = 32 words }
    compute MAC { energy = 1pJ }
}
codesign c {
    networks = mlp_space
    accelerators = acc
    accuracy = trained(dataset = digits, epochs = 1, seed = SEED)
    objective = minimize edp
    mapper { budget = 200, seed = 1 }
}
"""


def _program(seed: int) -> object:
    return api.compile(text=SPEC.replace("SEED", str(seed)))


def _accuracies(run: api.CoDesignRun) -> dict[str, float]:
    found = {}
    for result in run.outcome.results.values():
        assert result.metrics is not None and result.metrics.accuracy is not None
        found[result.network.label] = result.metrics.accuracy
    return found


def test_trained_stored_and_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                      ) -> None:
    store = tmp_path / "store.sqlite"
    program = _program(1)
    first = _accuracies(api.search(program, store=store))
    space = program.networks["mlp_space"]  # type: ignore[attr-defined]
    expected = {space.label(p): train.train_network(space.instantiate(p), "digits",
                                                   epochs=1, seed=1).accuracy
                for p in space.points()}
    assert first == expected
    # The wider network learns more in one epoch: the accuracies differ across the space.
    assert expected["mlp_space(h=32)"] > expected["mlp_space(h=4)"]
    # Two trained records beside the pair rows.
    with sqlite3.connect(store) as db:
        keys = [row[0] for row in db.execute("SELECT key FROM results")]
    assert sum(key.startswith("trained-") for key in keys) == 2

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("trained again instead of reading back")

    monkeypatch.setattr(train, "train_network", refuse)
    assert _accuracies(api.search(program, store=store)) == first
    # Another seed is another key: it trains (and here, refuses); so does --fresh.
    with pytest.raises(AssertionError, match="trained again"):
        api.search(_program(2), store=store)
    with pytest.raises(AssertionError, match="trained again"):
        api.search(program, store=store, fresh=True)


def test_the_same_seed_gives_the_same_accuracies() -> None:
    program = _program(3)
    first = api.request(program, store=":memory:").accuracies
    again = api.request(program, store=":memory:").accuracies
    assert first == again and len(first) == 2


def test_trained_rows_outlive_a_new_cost_model(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from dslc.codesign.designs import Instances
    from dslc.codesign.store import ResultStore
    from dslc.codesign.trained import trained_accuracies

    program = _program(1)
    spec = program.codesigns["c"]  # type: ignore[attr-defined]
    request = api.request(program, store=":memory:")
    designs = request.network_designs.designs
    instances = Instances(program.networks, program.accelerators)  # type: ignore[attr-defined]
    path = tmp_path / "store.sqlite"
    old = ResultStore(path, model=1)
    first = trained_accuracies(spec.accuracy, designs, instances, old, "r1")
    old.close()

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("trained again instead of reading back")

    monkeypatch.setattr(train, "train_network", refuse)
    new = ResultStore(path, model=2)
    assert new.notes == ()  # the trained rows are not reported as stale pairs
    assert trained_accuracies(spec.accuracy, designs, instances, new, "r2") == first
    new.close()
