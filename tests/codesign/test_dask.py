"""The same co-design run on a Dask cluster (started here) as in one process."""

from __future__ import annotations

from pathlib import Path

import pytest

from dslc import api
from dslc.codesign.result import outcome_to_json

distributed = pytest.importorskip("dask.distributed")

TINY = Path(__file__).parent / "tiny.cd"


def test_a_local_dask_cluster_gives_the_same_answer() -> None:
    local = api.search(TINY, store=":memory:")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        remote = api.search(TINY, store=":memory:", scheduler=cluster.scheduler_address)
    assert remote.outcome.pairs_evaluated == local.outcome.pairs_evaluated
    assert outcome_to_json(remote.outcome) == outcome_to_json(local.outcome)
