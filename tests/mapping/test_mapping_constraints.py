"""A written mapping against its accelerator's map-space constraints (E612): a conforming
mapping stays clean and costs what it costs without them; each kind of constraint a mapping
breaks is found, at the mapping's loop, with the constraint as a secondary label (the
goldens tests/golden/E612_*.cd show one per kind); the mapper's own mappings under the
same constraints obey them (one set of rules, dslc.mapping.constraints); parameters of
the accelerator are honoured at the mapping's point."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from dslc import api
from dslc.diagnostics.diagnostic import Diagnostic
from dslc.mapper import MapperOptions
from dslc.mapping.constraints import OrderRule, factor_holds, mapping_violations, order_checks

NETWORK = """
network net {
    input x: [8, 8, 8]
    layer a = conv(x, out = 16, kernel = 3, pad = 1)      # K 16, C 8, P 8, Q 8, R 3, S 3
}
"""


def accelerator(name: str, constraints: str = "") -> str:
    block = f"    constraints {{\n{constraints}\n    }}\n" if constraints else ""
    return f"""
accelerator {name} {{
    word  = 16b
    clock = 200MHz
    memory DRAM {{ read = 200pJ, write = 200pJ }}
    memory GLB  {{ size = 16KiB }}
    fanout PE   {{ mesh = 4 x 4, dataflow {{ x = [C], y = [K] }} }}
    memory RF   {{ size = 64 words, holds = [weight, output] }}
    compute MAC {{ energy = 1pJ }}
{block}}}
"""


def mapping(name: str, acc: str, glb: str = "temporal [C 2, P 4, Q 8]",
            pe: str = "spatial x [C 4], spatial y [K 4]") -> str:
    return f"""
mapping {name} for net.a on {acc} {{
    DRAM {{ temporal [K 2, P 2] }}
    GLB  {{ {glb} }}
    PE   {{ {pe} }}
    RF   {{ temporal [K 2, R 3, S 3] }}
}}
"""


# Every kind of constraint, each obeyed by the mapping above.
OBEYED = """
        DRAM { factors [K 2, C 1, P <= 2, Q >= 1], forbid [R, S] }
        GLB  { allow [C, P, Q], order [C, ..., Q], bypass [weight], keep [input] }
        PE   { spatial x [C 4], spatial y [K >= 2], forbid x [K] }
        RF   { factors [R all, S all], order [K, R, S], keep [weight, output] }
"""


def diagnostics(text: str) -> list[Diagnostic]:
    return list(api.compile("spec.cd", text=text).diagnostics)


def test_a_conforming_mapping_is_clean_and_costs_the_same() -> None:
    text = NETWORK + accelerator("free") + accelerator("pinned", OBEYED) + \
        mapping("on_free", "free", glb="temporal [C 2, P 4, Q 8], keep [input, output]") + \
        mapping("on_pinned", "pinned", glb="temporal [C 2, P 4, Q 8], bypass [weight]")
    assert diagnostics(text) == []
    program = api.compile("spec.cd", text=text)
    free, pinned = api.evaluate(program, "on_free"), api.evaluate(program, "on_pinned")
    assert dataclasses.replace(pinned, accelerator="free") == free
    assert pinned.energy_pj == free.energy_pj
    assert pinned.cycles == free.cycles == 4608
    assert pinned.macs == free.macs == 16 * 8 * 8 * 8 * 3 * 3


def test_every_broken_constraint_is_reported_at_the_mapping_with_the_constraint() -> None:
    text = NETWORK + accelerator("tiny", """
        DRAM { factors [K 4], forbid [P] }
        GLB  { order [Q, ...], bypass [output] }
        PE   { spatial x [C 2], idle y }
        RF   { bypass [output] }
""") + mapping("m", "tiny")
    found = diagnostics(text)
    assert [(d.code, d.span.text if d.span else "", d.related[0].span.text)
            for d in found] == [
        ("E612", "K 2", "K 4"),                   # DRAM: K fixed to 4
        ("E612", "P 2", "P"),                     # DRAM: P forbidden
        ("E612", "GLB", "output"),                # GLB keeps output by default
        ("E612", "Q 8", "order [Q, ...]"),        # GLB: Q is innermost, not outermost
        ("E612", "C 4", "C 2"),                   # PE X: C fixed to 2
        ("E612", "K 4", "idle y"),                # PE Y idle
        ("E612", "RF", "output"),                 # RF keeps output by default
    ]
    assert all(d.is_error for d in found)
    assert found[0].message == ("`K` has a factor of 2 at `DRAM`, but `factors [K 4]` of "
                                "accelerator `tiny` makes it exactly 4")
    assert found[0].help == "give `K` a factor of 4 at `DRAM`"
    assert found[0].notes == ("the constraints of accelerator `tiny` apply to every mapping "
                              "on it",)
    assert found[3].message == ("the loops at `GLB` run [C, P, Q] (outer to inner), but "
                                "`order [Q, ...]` of accelerator `tiny` puts `Q` outermost")


@pytest.mark.parametrize(("constraint", "message"), [
    ("GLB { factors [P >= 8] }", "`P` has a factor of 4 at `GLB`, but `factors [P >= 8]` of "
     "accelerator `tiny` makes it at least 8"),
    ("GLB { factors [C 1] }", "`C` has a loop at `GLB` (factor 2), but `factors [C 1]` of "
     "accelerator `tiny` allows no `C` loop there"),
    ("RF { factors [K all] }", "`K` has a factor of 2 at `RF`, but `factors [K all]` of "
     "accelerator `tiny` puts all of `K` (16) there"),
    ("RF { order [..., R, K] }", "the loops at `RF` run [K, R, S] (outer to inner), but "
     "`order [..., R, K]` of accelerator `tiny` puts `K` innermost"),
    ("PE { forbid [C] }", "`C` has a loop at `PE` X (factor 4), but `forbid x [C]` of "
     "accelerator `tiny` allows no `C` loop there"),
    ("PE { allow y [C] }", "`K` has a loop at `PE` Y (factor 4), but `allow y [C]` of "
     "accelerator `tiny` allows no `K` loop there"),
    ("PE { spatial y [K <= 2] }", "`K` has a factor of 4 at `PE` Y, but `spatial y [K <= 2]` "
     "of accelerator `tiny` makes it at most 2"),
])
def test_messages_name_the_level_the_dim_and_the_constraint(constraint: str,
                                                            message: str) -> None:
    found = diagnostics(NETWORK + accelerator("tiny", "        " + constraint) +
                        mapping("m", "tiny"))
    assert [(d.code, d.message) for d in found] == [("E612", message)]


def test_the_innermost_order_is_checked_too() -> None:
    # The order of the innermost memory does not change the cost, but the constraint is
    # written for every mapping; the mapper's mappings obey it as well (to_mapping).
    found = diagnostics(NETWORK + accelerator("tiny", "        RF { order [S, ...] }") +
                        mapping("m", "tiny"))
    assert [(d.code, d.span.text if d.span else "") for d in found] == [("E612", "S 3")]


def test_constraints_follow_the_accelerators_point() -> None:
    text = NETWORK + """
accelerator fam {
    param k in {2, 4}
    word  = 16b
    clock = 200MHz
    memory DRAM { read = 200pJ, write = 200pJ }
    memory GLB  { size = 16KiB }
    fanout PE   { mesh = 4 x 4, dataflow { x = [C], y = [K] } }
    memory RF   { size = 64 words, holds = [weight, output] }
    compute MAC { energy = 1pJ }
    constraints { DRAM { factors [K k] } }
}
""" + mapping("ok", "fam(k = 2)") + mapping("bad", "fam(k = 4)")
    found = diagnostics(text)
    assert [(d.code, d.message, d.related[0].span.text) for d in found] == [
        ("E612", "`K` has a factor of 2 at `DRAM`, but `factors [K 4]` of accelerator `fam` "
         "makes it exactly 4", "K k")]
    assert found[0].span is not None and found[0].span.file.line_col(found[0].span.start)[0] \
        == text.count("\n", 0, text.index("mapping bad")) + 2


def test_the_mappers_mappings_obey_the_same_rules() -> None:
    constraints = """
        DRAM { factors [C 1], forbid [R, S] }
        GLB  { order [K, ..., P], bypass [weight] }
        PE   { spatial x [C 4], idle y }
        RF   { factors [R all, S all], keep [weight] }
"""
    program = api.compile("spec.cd", text=NETWORK + accelerator("tiny", constraints))
    assert program.diagnostics == ()
    spec = api.accelerator(program, "tiny")
    for search in ("exhaustive", "heuristic"):
        found = api.map_layer(program, "net", "a", "tiny",
                              options=MapperOptions(search=search, budget=2000))
        result = found.result
        assert mapping_violations(result.mapping, found.problem, found.arch,
                                  spec.constraints) == ()
        glb = result.mapping.level("GLB")
        assert "weight" not in glb.keep
        c, r = found.problem.dims.index("C"), found.problem.dims.index("R")
        assert [loop.dim for loop in result.mapping.level("DRAM").temporal
                if loop.dim in (c, r)] == []
        assert [loop.factor for loop in result.mapping.level("RF").temporal
                if loop.dim == r] == [3]


def test_the_predicates_agree_on_ints_and_arrays() -> None:
    factors = np.array([1, 2, 4, 8])
    totals = np.array([8, 8, 4, 8])
    for op, value in (("=", 4), ("<=", 2), (">=", 4), ("all", 0)):
        arrays = factor_holds(op, value, factors, totals)
        assert list(arrays) == [bool(factor_holds(op, value, int(f), int(t)))
                                for f, t in zip(factors, totals, strict=True)]
    assert list(factor_holds("<=", 2, factors, totals)) == [True, True, False, False]
    rule = OrderRule(outer=(0,), inner=(2,), others=True)
    # Candidates (dims 0, 1, 2): ranks [1, 2, 3] obeys; [2, 1, 3] has dim 0 second; dim 0
    # without a loop ([0, 1, 2]) obeys; [1, 3, 2] has dim 2 before dim 1.
    rank = np.array([[1, 2, 0, 1], [2, 1, 1, 3], [3, 3, 2, 2]])
    real = np.count_nonzero(rank, axis=0)
    checks = [(d, list(holds)) for d, holds in order_checks(rule, rank, real)]
    assert checks == [(0, [True, False, True, True]), (2, [True, True, True, False])]
    scalar = [(d, bool(holds)) for d, holds in order_checks(rule, [2, 1, 3], 3)]
    assert scalar == [(0, False), (2, True)]
