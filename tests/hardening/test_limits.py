"""Every numeric slot has a stated range (dslc/spec/limits.py, docs/language/guide.md
"Limits"): a value at the limit elaborates, one past it is a diagnostic at the value (E302,
E705 for an objective's exponent), never an internal error. The issue's inputs are among
them: `mesh = (2^62) x 4`, `minimize energy ^ 100`, `1e-300b..1e300b step 1e-300b`, a clock
of 1e-300 Hz, `out = 10^38`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dslc import api
from dslc.spec import limits

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "language" / "guide.md"

ACCELERATOR = """
accelerator a {{
    word  = {word}
    clock = {clock}
    memory DRAM {{ width = {width}, read = {energy}, write = 100pJ, bandwidth = {bandwidth} }}
    memory GLB  {{ size = {size}, area = {area} }}
    fanout PE   {{ mesh = {mesh}, dataflow = weight_stationary }}
    memory RF   {{ size = 64 words }}
    compute MAC {{ energy = 1pJ }}
}}
"""
GOOD = {"width": "64b", "word": "16b", "clock": "1GHz", "energy": "100pJ", "bandwidth": "8",
        "size": "64KiB", "area": "1mm2", "mesh": "16 x 16"}


def accelerator(**changes: str) -> str:
    return ACCELERATOR.format(**(GOOD | changes))


def network(shape: str, layer: str) -> str:
    return f"network n {{ input x: {shape} layer a = {layer} }}\n"


def codesign(**changes: str) -> str:
    fields = {"objective": "minimize edp", "batch": "1", "budget": "100"} | changes
    return accelerator() + network("[3, 8, 8]", "conv(x, out = 4, kernel = 1)") + f"""
codesign c {{
    networks = n
    accelerators = a
    batch = {fields["batch"]}
    objective = {fields["objective"]}
    mapper {{ search = heuristic, budget = {fields["budget"]}, seed = 1 }}
}}
"""


def differentiable(setting: str) -> str:
    """`codesign()` with a differentiable block of one `setting`."""
    return codesign().replace("mapper {", f"differentiable {{ {setting} }}\n    mapper {{")


def trained(argument: str) -> str:
    """A co-design whose accuracy is trained on the digits, with `argument`."""
    return accelerator() + network("[1, 8, 8]", "dense(flatten(x), out = 10)") + f"""
codesign c {{
    networks = n
    accelerators = a
    accuracy = trained(dataset = digits, {argument})
}}
"""


def codes(text: str) -> list[str]:
    return [d.code for d in api.compile(text=text).diagnostics if d.is_error]


CASES = {
    # slot: (a value at the limit, the value past it, the code past it)
    "input dimension": (network(f"[{2**31 - 1}]", "relu(x)"),
                        network(f"[{2**31}]", "relu(x)"), "E302"),
    "operator attribute": (network("[1, 1, 1]", f"conv(x, out = {2**31 - 1}, kernel = 1)"),
                           network("[1, 1, 1]", "conv(x, out = 10^38, kernel = 1)"), "E302"),
    "layer MACs": (network("[65536, 1, 1]", f"conv(x, out = {2**28}, kernel = 1)"),
                   network("[65536, 1, 1]", f"conv(x, out = {2**28 + 1}, kernel = 1)"), "E302"),
    "tensor elements": (network(f"[{2**22}, {2**22}]", "relu(x)"),
                        network(f"[{2**22}, {2**22 + 1}]", "relu(x)"), "E302"),
    "mesh extent": (accelerator(mesh="65536 x 1"), accelerator(mesh="(2^62) x 4"), "E302"),
    "word": (accelerator(word="65536b", width="65536b"),
             accelerator(word="65537b", width="65537b"), "E302"),
    "memory size": (accelerator(size=f"{2**60}b"), accelerator(size=f"{2**61}b"), "E302"),
    "slow clock": (accelerator(clock="1Hz"), accelerator(clock="1e-300Hz"), "E302"),
    "fast clock": (accelerator(clock="1000GHz"), accelerator(clock="1001GHz"), "E302"),
    "energy": (accelerator(energy="1mJ"), accelerator(energy="1.5mJ"), "E302"),
    "area": (accelerator(area="1000000mm2"), accelerator(area="2000000mm2"), "E302"),
    "bandwidth": (accelerator(bandwidth=f"{2**32}"), accelerator(bandwidth=f"{2**33}"),
                  "E302"),
    "tiny bandwidth": (accelerator(bandwidth="0.000000001"),
                       accelerator(bandwidth="1e-300"), "E302"),
    "batch": (codesign(batch="65536"), codesign(batch="65537"), "E302"),
    "budget": (codesign(budget="1000000000"), codesign(budget="1000000001"), "E302"),
    "objective exponent": (codesign(objective="minimize energy ^ 8"),
                           codesign(objective="minimize energy ^ 100"), "E705"),
    "mapper seed": (codesign().replace("seed = 1", f"seed = {2**63 - 1}"),
                    codesign().replace("seed = 1", "seed = 2^63"), "E302"),
    "differentiable steps": (differentiable(f"steps = {10**6}"),
                             differentiable(f"steps = {10**6 + 1}"), "E302"),
    "differentiable seed": (differentiable(f"seed = {2**63 - 1}"),
                            differentiable("seed = 10^30"), "E302"),
    "large cost weight": (differentiable("cost_weight = 1e6"),
                          differentiable("cost_weight = 1000001"), "E302"),
    "small cost weight": (differentiable("cost_weight = 0.000001"),
                          differentiable("cost_weight = 1e-300"), "E302"),
    "swept cost weight": (differentiable("weights = [1e-6, 1, 1e6]"),
                          differentiable("weights = [1, 1e40]"), "E302"),
    "held-out pairs": (differentiable(f"heldout_pairs = {10**7}"),
                       differentiable("heldout_pairs = 10^12"), "E302"),
    "trained epochs": (trained("epochs = 10000"), trained("epochs = 10001"), "E302"),
    "trained seed": (trained(f"seed = {2**63 - 1}"), trained("seed = 10^30"), "E302"),
    # The same slots and the rest of the table, one step past rather than far past.
    "operator attribute, just past": (
        network("[1, 1, 1]", f"conv(x, out = {2**31 - 1}, kernel = 1)"),
        network("[1, 1, 1]", f"conv(x, out = {2**31}, kernel = 1)"), "E302"),
    "mesh extent, just past": (accelerator(mesh="65536 x 1"), accelerator(mesh="65537 x 1"),
                               "E302"),
    "slow clock, just past": (accelerator(clock="1Hz"), accelerator(clock="0.5Hz"), "E302"),
    "tiny bandwidth, just past": (accelerator(bandwidth="0.000000001"),
                                  accelerator(bandwidth="0.0000000009"), "E302"),
    "buffering": (accelerator(area="1mm2, buffering = 1024"),
                  accelerator(area="1mm2, buffering = 1025"), "E302"),
    "top_k": (codesign().replace("batch =", f"top_k = {2**63 - 1}\n    batch ="),
              codesign().replace("batch =", f"top_k = {2**63}\n    batch ="), "E302"),
    "max_pairs": (codesign().replace("batch =", f"max_pairs = {2**63 - 1}\n    batch ="),
                  codesign().replace("batch =", f"max_pairs = {2**63}\n    batch ="), "E302"),
    "differentiable candidates": (differentiable("candidates = 10"),
                                  differentiable("candidates = 11"), "E302"),
    "differentiable train fraction": (differentiable("train_fraction = 1"),
                                      differentiable("train_fraction = 1.01"), "E302"),
    "held-out pairs, just past": (differentiable(f"heldout_pairs = {10**7}"),
                                  differentiable(f"heldout_pairs = {10**7 + 1}"), "E302"),
    "differentiable seed, just past": (differentiable(f"seed = {2**63 - 1}"),
                                       differentiable(f"seed = {2**63}"), "E302"),
    "trained seed, just past": (trained(f"seed = {2**63 - 1}"), trained(f"seed = {2**63}"),
                                "E302"),
    "trained epochs, at least 1": (trained("epochs = 1"), trained("epochs = 0"), "E302"),
}


@pytest.mark.parametrize("slot", sorted(CASES))
def test_a_value_at_the_limit_elaborates_and_one_past_it_is_a_diagnostic(slot: str) -> None:
    at_limit, past, code = CASES[slot]
    assert codes(at_limit) == []
    assert codes(past) == [code]


def test_the_mesh_of_the_issue_names_the_limit() -> None:
    (diagnostic,) = api.compile(text=accelerator(mesh="(2^62) x 4")).diagnostics
    assert diagnostic.message == "a mesh extent must be at most 65,536, found about 4.61e+18"
    assert diagnostic.span is not None and "2^62" in diagnostic.span.text


def test_instances_past_the_limit() -> None:
    nested = """
accelerator a {
    word = 16b
    clock = 1GHz
    memory DRAM { width = 64b }
    fanout A { mesh = %s }
    memory B { size = 64KiB }
    fanout C { mesh = %s }
    memory RF { size = 64 words }
    compute MAC { energy = 1pJ }
}
"""
    assert codes(nested % ("65536 x 65536", "1 x 1")) == []
    (diagnostic,) = api.compile(text=nested % ("65536 x 65536", "2 x 1")).diagnostics
    assert diagnostic.code == "E302"
    assert diagnostic.message == (f"accelerator `a` has {2**33:,} compute instances, more "
                                  f"than the limit of {2**32:,}")


def test_a_quantity_range_too_large_to_count_is_e302() -> None:
    text = accelerator(size="g").replace("word  =", "param g in 1e-300b..1e300b step 1e-300b\n"
                                         "    word  =")
    (diagnostic,) = api.compile(text=text).diagnostics
    assert (diagnostic.code, diagnostic.message) == ("E302", "range too large")


def test_the_guide_states_every_limit() -> None:
    """docs/language/guide.md's "Limits" table gives each constant's value as written here."""
    section = GUIDE.read_text().split("## Limits", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]+) \|", section, flags=re.MULTILINE))
    constants = {name: getattr(limits, name) for name in dir(limits) if name.isupper()}
    assert set(rows) == set(constants)
    for name, value in constants.items():
        stated = rows[name].strip().replace(",", "").replace(" ", "")
        written = re.sub(r"\(.*?\)", "", stated)
        number = eval(written.replace("^", "**"))  # e.g. 2^31-1, 1e12
        assert number == value, name


SPEC_CASES = {
    # (model, the field, a value at the limit, the value past it)
    "memory size": ("memory", "size_bits", limits.MAX_MEMORY_BITS, limits.MAX_MEMORY_BITS + 1),
    "memory word": ("memory", "word_bits", limits.MAX_WORD_BITS, limits.MAX_WORD_BITS + 1),
    "read energy": ("memory", "read_energy_pj", limits.MAX_ENERGY_PJ, 2e9),
    "leakage": ("memory", "leakage_pj_per_cycle", limits.MAX_ENERGY_PJ, float("inf")),
    "bandwidth": ("memory", "read_bandwidth_words", limits.MIN_BANDWIDTH_WORDS, 1e-12),
    "area": ("memory", "area_um2", limits.MAX_AREA_UM2, float("nan")),
    "mesh": ("fanout", "mesh_x", limits.MAX_MESH_EXTENT, 2**62),
    "MAC energy": ("compute", "energy_pj", limits.MAX_ENERGY_PJ, -1.0),
    "clock": ("accelerator", "clock_hz", limits.MIN_CLOCK_HZ, 1e-300),
    "buffering": ("memory", "buffering", limits.MAX_BUFFERING, limits.MAX_BUFFERING + 1),
}


def _spec(kind: str, field: str, value: object) -> object:
    from dslc.spec.accelerator import AcceleratorSpec, ComputeSpec, FanoutSpec, MemorySpec

    memory = {"name": "GLB", "word_bits": 16, "width_bits": 64}
    fanout = {"name": "PE", "mesh_x": 4}
    compute = {"name": "MAC", "word_bits": 16}
    if kind == "memory":
        return MemorySpec(**(memory | {field: value}))
    if kind == "fanout":
        return FanoutSpec(**(fanout | {field: value}))
    if kind == "compute":
        return ComputeSpec(**(compute | {field: value}))
    accelerator = {"name": "a", "word_bits": 16, "clock_hz": 1e9,
                   "compute": ComputeSpec(**compute), "hierarchy": (MemorySpec(**memory),)}
    return AcceleratorSpec(**(accelerator | {field: value}))


def test_the_differentiable_settings_model_carries_the_cost_weights_range() -> None:
    """A DifferentiableSpec built in Python is held to the cost weights' range too."""
    from pydantic import ValidationError

    from dslc.spec.codesign import DifferentiableSpec

    low, high = limits.MIN_COST_WEIGHT, limits.MAX_COST_WEIGHT
    assert DifferentiableSpec(cost_weight=low, weights=(low, high)).weights == (low, high)
    for bad in (0.0, high * 2, float("inf"), float("nan")):
        with pytest.raises(ValidationError):
            DifferentiableSpec(cost_weight=bad)
        with pytest.raises(ValidationError):
            DifferentiableSpec(weights=(1.0, bad))


@pytest.mark.parametrize("case", sorted(SPEC_CASES))
def test_the_spec_models_carry_the_limits(case: str) -> None:
    """A spec built without the language (an import, the Python API) is held to the same
    ranges: the limit itself is accepted, the value past it is a validation error."""
    from pydantic import ValidationError

    kind, field, at_limit, past = SPEC_CASES[case]
    assert getattr(_spec(kind, field, at_limit), field) == at_limit
    with pytest.raises(ValidationError):
        _spec(kind, field, past)


def test_the_spec_models_limit_the_instances() -> None:
    from pydantic import ValidationError

    from dslc.spec.accelerator import AcceleratorSpec, ComputeSpec, FanoutSpec, MemorySpec

    def with_meshes(*meshes: tuple[int, int]) -> AcceleratorSpec:
        return AcceleratorSpec(
            name="a", word_bits=16, clock_hz=1e9, compute=ComputeSpec(name="MAC", word_bits=16),
            hierarchy=(MemorySpec(name="DRAM", word_bits=16, width_bits=64),
                       *(FanoutSpec(name=f"F{i}", mesh_x=x, mesh_y=y)
                         for i, (x, y) in enumerate(meshes))))

    assert with_meshes((2**16, 2**16)).mac_units == limits.MAX_INSTANCES
    with pytest.raises(ValidationError, match="more than the limit"):
        with_meshes((2**16, 2**16), (2, 1))


@pytest.mark.parametrize(("text", "message"), [
    (accelerator(word="65537b", width="65537b"),
     "the word size must be at most 65,536 bits, found 65,537"),
    (accelerator(size=f"{2**61}b"),
     f"the size must be at most {2**60:,} bits, found {2**61:,}"),
    (accelerator(energy="1.0000001mJ"),
     "read energy must be between 0pJ and 1e+09pJ, found 1.0000001e+09pJ"),
    (accelerator(bandwidth=f"{2**32 + 1}"), "bandwidth in words per cycle must be between "
     "1e-09 and 4.29497e+09, found 4294967297"),
    (accelerator(clock="1.0000000001e12Hz"),
     "the clock must be between 1Hz and 1e+12Hz, found 1.0000000001e+12Hz"),
    (accelerator(area="1mm2, buffering = 1025"), "buffering must be at most 1,024, found 1,025"),
])
def test_a_value_just_past_a_limit_is_not_shown_as_the_limit(text: str, message: str
                                                               ) -> None:
    """The value found is printed with the digits that tell it from the limit (it was
    `must be at most 65,536 bits, found 6.55e+04`, `between 0pJ and 1e+09pJ, found
    1e+09pJ`)."""
    errors = [d for d in api.compile(text=text).diagnostics if d.is_error]
    assert [(d.code, d.message) for d in errors] == [("E302", message)]


def _search(networks: str, accelerators: str) -> str:
    """A request over a network space and an accelerator space of the given domains."""
    return f"""
network n {{
    param a in {networks}
    input x: [3, 8, 8]
    layer l = conv(x, out = 4, kernel = 1)
}}
accelerator acc {{
    param r in {accelerators}
    word = 16b clock = 1GHz
    memory DRAM {{ width = 64b }}
    fanout PE {{ mesh = 2 x 2 }}
    memory RF {{ size = 64 words }}
    compute MAC {{ }}
}}
codesign c {{ networks = n accelerators = acc max_pairs = 10 }}
"""


@pytest.mark.parametrize(("text", "message"), [
    (_search("1..1000 param b in 1..101", "1..1"),
     "co-design `c` searches 101,000 network designs, more than the limit of 100,000"),
    (_search("1..1", "1..1000 param s in 1..1000 param t in 1..1000"),
     "co-design `c` searches 1,000,000,000 accelerator designs, more than the limit of "
     "100,000"),
    (_search("1..4000", "1..2501"), "co-design `c` searches 4,000 networks x 2,501 "
     "accelerators = 10,004,000 pairs, more than the limit of 10,000,000"),
])
def test_a_search_over_too_many_designs_or_pairs_is_a_diagnostic(text: str, message: str
                                                                 ) -> None:
    """The planner builds every design and bounds every pair before evaluating one,
    whatever `max_pairs` says: a request over 10^9 network designs planned for ever (and
    grew its memory) with `max_pairs = 10`. Past the limits it is E302 at lint."""
    errors = [d for d in api.compile(text=text).diagnostics if d.is_error]
    assert [(d.code, d.message) for d in errors] == [("E302", message)]


def test_a_search_at_the_limits_elaborates() -> None:
    assert codes(_search("1..1000 param b in 1..100", "1..1")) == []
    assert codes(_search("1..4000", "1..2500")) == []


def test_a_mappings_batch_has_the_batch_limit(tmp_path: Path) -> None:
    """A `mapping` block's batch is held to MAX_BATCH like a co-design's (it had no maximum:
    `batch = 10^20` linted clean and `dslc eval` costed it)."""
    examples = Path(__file__).resolve().parents[2] / "examples"
    text = (examples / "mapping.cd").read_text()
    header = "mapping rs_conv3x3 for resnet18.layer1.0.a on eyeriss_like {\n"
    assert header in text
    at_limit = text.replace(header, header + f"    batch = {limits.MAX_BATCH}\n").replace(
        "DRAM         { temporal [K 4,", f"DRAM         {{ temporal [N {limits.MAX_BATCH}, K 4,")
    spec = tmp_path / "mapping.cd"
    spec.write_text(at_limit)
    assert [d for d in api.compile(spec).diagnostics if d.is_error] == []
    spec.write_text(at_limit.replace(f"batch = {limits.MAX_BATCH}",
                                     f"batch = {limits.MAX_BATCH + 1}"))
    errors = [d for d in api.compile(spec).diagnostics if d.is_error]
    assert [(d.code, d.message) for d in errors] == [
        ("E302", "the batch must be at most 65,536, found 65,537")]
    assert errors[0].span is not None and errors[0].span.text == "65537"


@pytest.mark.parametrize(("field", "past"), [
    ("batch", limits.MAX_BATCH + 1), ("top_k", limits.MAX_COUNT + 1),
    ("max_pairs", limits.MAX_COUNT + 1)])
def test_the_codesign_and_mapping_models_carry_their_limits(field: str, past: int) -> None:
    from pydantic import ValidationError

    from dslc.spec.codesign import CoDesignSpec
    from dslc.spec.mapping import MappingSpec

    base = {"name": "c", "networks": ("n",), "accelerators": ("a",)}
    assert getattr(CoDesignSpec(**base, **{field: past - 1}), field) == past - 1
    with pytest.raises(ValidationError):
        CoDesignSpec(**base, **{field: past})
    if field == "batch":
        fields = {"name": "m", "network": "n", "layer": "l", "accelerator": "a", "levels": ()}
        assert MappingSpec(**fields, batch=past - 1).batch == past - 1
        with pytest.raises(ValidationError):
            MappingSpec(**fields, batch=past)


@pytest.mark.parametrize(("at_limit", "past", "code", "message"), [
    ("network n { param p in 1..100000 input x: [p] layer a = relu(x) }",
     "network n { param p in 1..100001 input x: [p] layer a = relu(x) }",
     "E302", "range too large"),
    ("network n { param p in 2..200000 step 2 input x: [p] layer a = relu(x) }",
     "network n { param p in 2..200002 step 2 input x: [p] layer a = relu(x) }",
     "E302", "range too large"),
    ("network n { input x: [3] block b = repeat 10000 from x { relu(prev) } }",
     "network n { input x: [3] block b = repeat 10001 from x { relu(prev) } }",
     "E403", "a repeat count must be at most 10000, found 10001"),
], ids=["range", "range with a step", "repeat"])
def test_the_languages_own_bounds(at_limit: str, past: str, code: str, message: str) -> None:
    """docs/language/guide.md, "Limits": "a range at most 100,000 values (E302), a `repeat`
    count at most 10,000 (E403)": the limit elaborates, one more is the diagnostic."""
    assert codes(at_limit) == []
    errors = [d for d in api.compile(text=past).diagnostics if d.is_error]
    assert [(d.code, d.message) for d in errors] == [(code, message)]
