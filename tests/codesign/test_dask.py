"""The same co-design run on a Dask cluster (started here) as in one process. The workers
receive the elaborated request: the spec file is gone before the cluster starts, and the
cluster runs in another directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dslc import api
from dslc.export import outcome_to_json

distributed = pytest.importorskip("dask.distributed")

TINY = Path(__file__).parent / "tiny.cd"


def test_a_local_dask_cluster_gives_the_same_answer(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "spec" / "tiny.cd"
    spec.parent.mkdir()
    spec.write_text(TINY.read_text())
    program = api.compile(spec)
    spec.unlink()
    local = api.search(program, store=":memory:")
    elsewhere = tmp_path / "cluster"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        remote = api.search(program, store=":memory:", scheduler=cluster.scheduler_address)
    assert os.getcwd() == str(elsewhere)
    assert remote.outcome.pairs_evaluated == local.outcome.pairs_evaluated
    assert outcome_to_json(remote.outcome) == outcome_to_json(local.outcome)
