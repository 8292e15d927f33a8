"""The same co-design run on a Dask cluster (started here) as in one process. The workers
receive the elaborated request: the spec file is gone before the cluster starts, and the
cluster runs in another directory."""

from __future__ import annotations

import json
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


@pytest.mark.parametrize(("address", "code", "kind", "message"), [
    ("nonsense", 2, "usage", "--scheduler nonsense is not a Dask scheduler address: "),
    ("tcp://127.0.0.1:1", 1, "cannot_run",
     "cannot reach the Dask scheduler at tcp://127.0.0.1:1")])
def test_a_scheduler_that_is_not_there_is_not_a_bug(
        tmp_path: Path, address: str, code: int, kind: str, message: str) -> None:
    """docs/cli.md: exit 3 is a bug in dslc. A malformed --scheduler address (ValueError)
    and a scheduler that does not answer (OSError after the connect timeout) were E900, exit
    3, 'this is a bug in dslc'; they are a usage error and a run that cannot go as asked."""
    import dask
    from typer.testing import CliRunner

    from dslc import cli

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        result = CliRunner().invoke(cli.app, ["run", str(TINY), "--cache", ":memory:",
                                              "--scheduler", address, "-f", "json"])
    assert result.exit_code == code, result.output
    error = json.loads(result.stdout)["error"]
    assert (error["kind"], error["exit_code"]) == (kind, code)
    assert error["message"].startswith(message)
    assert "E900" not in result.output and "bug" not in result.output
