"""The language's counting-rule properties reach the resolved accelerator and the cost:
`diagonal` on a fanout (one multicast block with the fanout directly above it; E504 where
there is none) and `power_gated` on the accelerator, a memory or the compute unit (leakage on
the instances in use, or on all of them). The rules themselves are hand-counted in
tests/cost/test_model.py."""

from __future__ import annotations

import pytest

from dslc import api
from dslc.arch import resolve_accelerator
from dslc.sema.program import Program

SPEC = """
import "std/networks/resnet18.cd"

accelerator columns {{
    word  = 16b
    clock = 1GHz
    power_gated = false
    memory DRAM {{ width = 16b, read = 1pJ, write = 1pJ }}
    fanout COL  {{ mesh = 16 }}
    fanout PE   {{ mesh = 1 x 12{diagonal} }}
    memory RF   {{ size = 256 words, read = 1pJ, write = 1pJ, leakage = 1pJ }}
    compute MAC {{ energy = 1pJ, leakage = 1pJ, power_gated = true }}
}}

mapping rs for resnet18.layer1.0.a on columns {{
    DRAM {{ temporal [K 16, C 64, P 56, Q 4] }}
    COL  {{ spatial x [Q 14] }}
    PE   {{ spatial y [S 3, K 4] }}
    RF   {{ temporal [R 3] }}
}}
"""


def _program(diagonal: str) -> Program:
    program = api.compile(text=SPEC.format(diagonal=diagonal))
    assert not program.errors, program.errors
    return program


def test_properties_reach_the_resolved_accelerator() -> None:
    arch = resolve_accelerator(api.accelerator(_program(", diagonal = true"), "columns"))
    # The accelerator's `power_gated = false` is every component's default; the MAC's own
    # `power_gated = true` wins.
    assert [level.power_gated for level in arch.levels] == [False, False]
    assert arch.compute.power_gated
    assert [(f.name, f.diagonal) for f in arch.fanouts] == [("COL", False), ("PE", True)]
    assert arch.multicast_blocks == ((0, 1),)
    plain = resolve_accelerator(api.accelerator(_program(""), "columns"))
    assert plain.multicast_blocks == ((0,), (1,)) and plain.key != arch.key


def test_a_written_mapping_costs_by_the_properties() -> None:
    # ResNet-18 layer1.0.a (3x3, 64 -> 64, 56 x 56): Q across 14 of the 16 columns, S and K
    # across a column's 12 PEs; each RF loops R 3. Inputs (axis q + s) leave DRAM once per
    # distinct child: per fanout 14 x 3 = 42 per word entering an RF; with PE `diagonal`,
    # 14 + 3 - 1 = 16.
    costs = {flag: api.evaluate(_program(text), "rs")
             for flag, text in ((False, ""), (True, ", diagonal = true"))}
    for flag, per_word in ((False, 42), (True, 16)):
        cost = costs[flag]
        entering = cost.level("RF").tensor("input").fills_per_instance
        assert cost.level("DRAM").tensor("input").reads_per_instance == per_word * entering
    cost = costs[False]
    # 16 x 12 = 192 RFs and MAC units, 14 x 12 = 168 of them used. The RFs are not power
    # gated (the accelerator's default): 1 pJ x cycles x 192. The MACs are: x 168.
    rf = cost.level("RF")
    assert (rf.instances, rf.utilized_instances) == (192, 168)
    assert rf.leakage_energy_pj == pytest.approx(1.0 * cost.cycles * 192)
    assert cost.compute.leakage_energy_pj == pytest.approx(1.0 * cost.cycles * 168)


def test_a_diagonal_fanout_needs_a_fanout_directly_above() -> None:
    program = api.compile(text="""
accelerator a {
    word  = 16b
    clock = 1GHz
    memory DRAM { width = 16b }
    fanout PE   { mesh = 4, diagonal = true }
    memory RF   { size = 16 words, power_gated = maybe }
    compute MAC { energy = 1pJ }
}
""")
    found = sorted((d.code, d.message) for d in program.errors)
    assert found == [
        ("E303", "expected true or false for `power_gated`, found the name `maybe`"),
        ("E504", "fanout `PE` is diagonal but is directly below memory `DRAM`")]


def test_resolve_rejects_a_diagonal_fanout_below_a_memory() -> None:
    # Specs built without the language get the same rule as a ValueError.
    spec = api.accelerator(_program(""), "columns")
    hierarchy = list(spec.hierarchy)
    hierarchy[1] = hierarchy[1].model_copy(update={"diagonal": True})  # COL, below DRAM
    with pytest.raises(ValueError, match="diagonal but stands directly below a memory"):
        resolve_accelerator(spec.model_copy(update={"hierarchy": tuple(hierarchy)}))
