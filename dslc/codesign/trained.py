"""Trained accuracies: every network design of a request trained, or read back from the store.

In: a `TrainedAccuracy` source (dataset, epochs, seed), the request's network designs and
their concrete specs, and the result store (dslc.codesign.store, the pairs' SQLite file or
memory). Out: the test accuracy of every network design. A design is trained only when the
store holds no result for its key: the digest of the concrete network spec (as pairs' keys
use it: `spec_digest`), the dataset, the epochs, the seed and the training recipe's version
(`dslc.learn.train.TRAINING_VERSION`); training is deterministic, so a stored result is
what training again would give. Records are `{"kind": "trained", "accuracy", "train_accuracy",
"seconds", "parameters"}`; they live beside the pairs' rows, owned by the request like them.

Without the `learn` extra this raises the CannotRunError of `dslc.learn.require` (the pip
line) before anything is trained. It does not train (dslc.learn.train) nor pick networks.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence

from dslc.codesign.designs import Design, Instances, spec_digest
from dslc.codesign.store import STORE_WAY_OUT, Record, ResultStore, StoreError
from dslc.spec.codesign import TrainedAccuracy

Progress = Callable[[str, int, int, float], None]
"""(phase, done, total, best): the co-design progress callback (best is inf here)."""


def training_key(digest: str, source: TrainedAccuracy, version: int) -> str:
    """The store key of one network's training: its spec digest, the dataset, epochs, seed
    and the training recipe's version."""
    text = json.dumps({"kind": "trained", "network": digest, "dataset": source.dataset,
                       "epochs": source.epochs, "seed": source.seed, "version": version},
                      sort_keys=True)
    return "trained-" + hashlib.sha256(text.encode()).hexdigest()[:24]


def trained_accuracies(source: TrainedAccuracy, designs: Sequence[Design],
                       instances: Instances, store: ResultStore | None, request: str, *,
                       progress: Progress | None = None) -> dict[Design, float]:
    """The test accuracy of every design, trained or read back (see the module docstring).
    Raises CannotRunError without the `learn` extra or for a network that cannot train on
    the dataset."""
    from dslc.learn import require

    require(f"`accuracy = trained(dataset = {source.dataset}, ...)`")
    from dslc.learn.datasets import load
    from dslc.learn.train import TRAINING_VERSION, train_network

    keys = {design: training_key(spec_digest(instances.network(design)), source,
                                 TRAINING_VERSION) for design in designs}
    unique = sorted(set(keys.values()))
    results = store if store is not None else ResultStore(None)
    try:
        found: dict[str, Record] = dict(results.stored(unique, request))
        todo = [design for design in designs if keys[design] not in found]
        if todo:
            data = load(source.dataset)
            first: dict[str, Design] = {}
            for design in todo:
                first.setdefault(keys[design], design)
            for done, (key, design) in enumerate(sorted(first.items())):
                if progress is not None:
                    progress("training", done, len(first), math.inf)
                result = train_network(instances.network(design), data, epochs=source.epochs,
                                       seed=source.seed)
                record: Record = {"kind": "trained", "accuracy": result.accuracy,
                                  "train_accuracy": result.train_accuracy,
                                  "seconds": result.seconds, "parameters": result.parameters}
                results.put(key, record, request)
                found[key] = record
            if progress is not None:
                progress("training", len(first), len(first), math.inf)
    finally:
        if store is None:
            results.close()
    return {design: stored_accuracy(found[keys[design]], results, design)
            for design in designs}


def stored_accuracy(record: Record, store: ResultStore, design: Design) -> float:
    """The accuracy of a training record; StoreError (the way out: --fresh) for one that
    does not decode as a trained accuracy, a real number in [0, 1] (a row edited or damaged
    on disk)."""
    accuracy = record.get("accuracy")
    if isinstance(accuracy, bool) or not isinstance(accuracy, int | float) or \
            not 0 <= accuracy <= 1:
        raise StoreError(f"a stored record in the result store {store.path} does not decode "
                         f"(the trained accuracy of {design.label}): {STORE_WAY_OUT}")
    return float(accuracy)
