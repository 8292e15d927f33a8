"""`dslc plan` and `dslc run` on a co-design over spaces: the documented JSON fields, the
files `--out` writes, and a bad accuracy table as a diagnostic-style error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dslc.cli import app

runner = CliRunner()
TINY = Path(__file__).parent / "tiny.cd"


def test_plan_json() -> None:
    result = runner.invoke(app, ["plan", str(TINY), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # docs/cli.md, `dslc plan`: the JSON keys.
    assert set(data) == {"strategy", "reason", "objective", "networks", "accelerators",
                         "pairs_total", "pairs_planned", "reference", "reference_reason",
                         "keep", "phases", "ruled_out", "at_most", "budget", "bounded",
                         "bounds_note"}
    assert data["budget"] == {"max_pairs": None, "time_limit_s": None}
    assert data["objective"] == "minimize edp"
    assert all(set(phase) == {"name", "pairs", "description"} for phase in data["phases"])
    assert data["strategy"] == "semi_decoupled"
    assert (data["networks"], data["accelerators"], data["pairs_total"]) == (12, 8, 96)
    assert data["reference"]["label"] == "grid(flow=weight_stationary, glb=4KiB, rows=4)"
    assert [p["name"] for p in data["phases"]] == ["rank", "check", "co-optimise", "certify"]
    # The check: the 12 networks on the one covering design other than the reference
    # (rows, glb and flow have two values each, so two designs cover them all).
    assert [p["pairs"] for p in data["phases"]] == [12, 12 * 1, 3 * 7, 96]
    assert (data["ruled_out"], data["at_most"], data["bounded"]) == (0, 96, True)


def test_run_json_and_out_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(TINY), "--format", "json", "--cache",
                                 str(tmp_path / "store.sqlite"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # docs/cli.md, "Co-design over spaces": the JSON fields, and those of their parts.
    assert set(data) == {"strategy", "reason", "objective", "pairs_total", "pairs_evaluated",
                         "reduction", "reference", "kept", "rank_check", "optimality", "gap",
                         "unproved",
                         "bounds", "log", "store_notes", "best", "top", "pareto",
                         "infeasibility"}
    pair = {"network", "accelerator", "objective", "energy_pj", "cycles", "latency_s", "edp",
            "area_mm2", "accuracy"}
    assert set(data["best"]) == pair | {"layers"}
    assert set(data["best"]["network"]) == {"name", "params", "label"}
    assert all(set(layer) == {"name", "problem_key", "energy_pj", "cycles", "utilization"}
               for layer in data["best"]["layers"])
    assert len(data["top"]) == 10 and all(set(item) == pair for item in data["top"])
    assert data["top"][0] == {key: data["best"][key] for key in pair}
    assert [item["objective"] for item in data["top"]] == sorted(
        item["objective"] for item in data["top"])
    assert set(data["rank_check"]) == {"spearman", "kendall", "samples", "accelerators",
                                       "winners", "keep", "passed"}
    assert set(data["bounds"]) == {"bounded", "note", "ruled_out", "removed", "tightness"}
    assert set(data["bounds"]["removed"]) == {"constraints", "bounds", "ranking"}
    assert data["infeasibility"] == {"constraints": [], "ruled_out_unevaluated": 0,
                                     "no_mapping": 0, "unknown_accuracy": [], "closest": None}
    assert data["pairs_total"] == 96
    assert data["reduction"] == data["pairs_total"] / data["pairs_evaluated"]
    assert set(data["rank_check"]) >= {"spearman", "kendall", "samples", "winners", "keep"}
    assert data["optimality"] == "certified" and data["gap"] is None
    bounds = data["bounds"]
    assert bounds["removed"]["ranking"] == 0
    assert sum(bounds["removed"].values()) == 96 - data["pairs_evaluated"]
    assert 1.0 <= bounds["tightness"]["energy"]["least"] <= bounds["tightness"]["energy"][
        "median"] <= bounds["tightness"]["energy"]["largest"]
    best = data["best"]
    for key in ("network", "accelerator", "energy_pj", "cycles", "edp", "area_mm2",
                "accuracy"):
        assert key in best
    assert best["edp"] == best["energy_pj"] * best["latency_s"]
    assert json.loads((out / "result.json").read_text()) == data
    rows = (out / "pairs.csv").read_text().splitlines()
    assert rows[0].startswith("network,accelerator,objective,energy_pj")
    assert len(rows) == 1 + data["pairs_evaluated"]
    assert (out / "pareto.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_accuracy_tables_are_errors_not_tracebacks(tmp_path: Path) -> None:
    spec = tmp_path / "acc.cd"
    spec.write_text(TINY.read_text().replace("    strategy     = auto",
                                             '    strategy     = auto\n'
                                             '    accuracy     = table("acc.csv")'))
    missing = runner.invoke(app, ["run", str(spec), "--cache", ":memory:"])
    assert missing.exit_code == 1
    assert "error[E706]: accuracy table `acc.csv` not found" in missing.output
    (tmp_path / "acc.csv").write_text("width,top1\n8,0.7\n")
    wrong = runner.invoke(app, ["run", str(spec), "--cache", ":memory:"])
    assert wrong.exit_code == 1, wrong.output
    assert "error[E706]: the accuracy table `acc.csv` has no `accuracy` column" in wrong.output
    assert "Traceback" not in wrong.output


def test_an_unusable_store_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = runner.invoke(app, ["run", str(TINY), "--cache", str(blocker / "x.sqlite")])
    assert result.exit_code == 1, result.output
    assert "cannot use the result store" in result.output and "--cache" in result.output


def test_the_default_store_is_beside_the_spec_and_memory_writes_none(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/cli.md: every finished pair goes to `.dslc/<file>.<codesign>.sqlite` beside the
    spec (not the working directory), a rerun reads the pairs back, and `--cache :memory:`
    stores nothing."""
    from tests.test_cli import SMALL_SPACE

    work = tmp_path / "elsewhere"
    work.mkdir()
    monkeypatch.chdir(work)
    (tmp_path / "specs").mkdir()
    spec = tmp_path / "specs" / "small.cd"
    spec.write_text(SMALL_SPACE.replace("codesign one", "codesign sweep"))
    none = runner.invoke(app, ["run", str(spec), "--format", "json", "--cache", ":memory:"])
    assert none.exit_code == 0, none.output
    assert list(tmp_path.rglob("*.sqlite*")) == [] and not (work / ":memory:").exists()
    first = runner.invoke(app, ["run", str(spec), "--format", "json"])
    assert first.exit_code == 0, first.output
    store = tmp_path / "specs" / ".dslc" / "small.sweep.sqlite"
    assert store.is_file()
    assert list(work.iterdir()) == []
    again = runner.invoke(app, ["run", str(spec)])
    assert again.exit_code == 0, again.output
    # (the table may wrap the path: compared without whitespace; tmp paths have none)
    assert f"2pairsreadbackfrom{store}" in "".join(again.stdout.split())
    assert json.loads(first.stdout)["best"] == json.loads(none.stdout)["best"]
