"""Design spaces as values (dslc/space.py): enumeration, sampling, resolving points, building
them, and the whole compiled program surviving a pickle (how workers receive it)."""

from __future__ import annotations

import pickle

import pytest

from dslc import api
from dslc.diagnostics.diagnostic import DiagnosticError, UsageError

SPEC = """
network net {
    param width in {8, 16}
    param kernel in {1, 3, 5}
    input x: [4, 8, 8]
    layer a = conv(x, out = width, kernel = kernel, pad = same)
}
network broken_at_seven {
    param k in {3, 7}
    input x: [4, 5, 5]
    layer a = conv(x, out = 4, kernel = k)
}
accelerator acc {
    param glb in {4KiB, 16KiB}
    word = 16b clock = 1GHz
    memory DRAM { width = 64b }
    memory GLB { size = glb, width = 64b }
    fanout PE { mesh = 4 x 4 }
    memory RF { size = 32 words }
    compute MAC { }
}
"""


def test_points_in_mixed_radix_order_and_back() -> None:
    space = api.compile(text=SPEC).networks["net"]
    assert space.size == len(space) == 6
    points = list(space.points())
    # The last parameter (kernel) varies fastest; points are sorted (name, value) pairs.
    assert points[:4] == [(("kernel", 1), ("width", 8)), (("kernel", 3), ("width", 8)),
                          (("kernel", 5), ("width", 8)), (("kernel", 1), ("width", 16))]
    assert [space.index_of(p) for p in points] == list(range(6))
    assert space.label(points[4]) == "net(kernel=3, width=16)"


def test_samples_are_seeded_distinct_and_in_space_order() -> None:
    space = api.compile(text=SPEC).networks["net"]
    first = space.sample(4, seed=7)
    assert first == space.sample(4, seed=7)
    assert len(set(first)) == 4
    assert [space.index_of(p) for p in first] == sorted(space.index_of(p) for p in first)
    assert space.sample(10, seed=7) == tuple(space.points())


def test_instantiate_builds_the_point_and_reports_what_does_not_build() -> None:
    program = api.compile(text=SPEC)
    net = program.networks["net"].instantiate({"width": 16, "kernel": 5})
    assert net.point == (("kernel", 5), ("width", 16))
    assert net.layers[0].out_channels == 16  # type: ignore[union-attr]
    glb = program.accelerators["acc"].instantiate({"glb": 16 * 8192})
    assert glb.memories[1].size_bits == 16 * 8192
    # Lint checks every point, so the program reports the kernel that does not fit ...
    assert [d.code for d in program.errors] == ["E401"]
    # ... and building that point says so too, as diagnostics, while a good point builds.
    broken = program.networks["broken_at_seven"]
    assert broken.instantiate({"k": 3}).layers[0].name == "a"
    with pytest.raises(DiagnosticError) as error:
        broken.instantiate({"k": 7})
    assert [d.code for d in error.value.diagnostics] == ["E401"]
    with pytest.raises(UsageError, match="5 is not a value of `k`"):
        broken.instantiate({"k": 5})


def test_a_compiled_program_and_its_request_survive_a_pickle() -> None:
    program = api.compile(text=SPEC.replace("input x: [4, 5, 5]", "input x: [4, 9, 9]") + """
codesign c { networks = net accelerators = acc mapper { budget = 50 } }
""")
    assert not program.errors
    again = pickle.loads(pickle.dumps(program))
    assert again.digest == program.digest
    for name, space in program.networks.items():
        assert [again.networks[name].instantiate(p) for p in space.points()] == \
            [space.instantiate(p) for p in space.points()]
    request = api.request(program)
    copied = pickle.loads(pickle.dumps(request))
    assert copied.key == request.key and copied.spec == request.spec
    assert copied.network_designs == request.network_designs
    design = request.accelerator_designs.designs[1]
    assert copied.instances().accelerator(design) == request.instances().accelerator(design)
