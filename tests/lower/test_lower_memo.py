"""The lowering's memo of built problems (`lower._BUILT`): a layer built before under another
name, or in another network, gives the same loop nest under its own name; a layer differing
in any attribute, shape or the batch gives its own; the memo stays bounded."""

from __future__ import annotations

from pathlib import Path

import pytest

from dslc import api
from dslc.lower import lower
from dslc.lower.lower import LoweredNetwork, lower_layer, lower_network
from dslc.spec import network as spec

STD = Path(__file__).resolve().parents[2] / "dslc" / "std" / "networks"
SHIPPED = ("resnet18", "mobilenet_v2", "transformer_encoder", "vgg16")


def _unmemoized(network: spec.NetworkSpec, batch: int) -> LoweredNetwork:
    """The network lowered without the memo: every layer built anew."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lower, "_nest_key", lambda *args: None)
        return lower_network(network, batch)


def _same(a: LoweredNetwork, b: LoweredNetwork) -> None:
    assert a == b
    for x, y in zip(a.layers, b.layers, strict=True):
        assert (x.problem is None) == (y.problem is None)
        if x.problem is not None and y.problem is not None:
            assert x.problem.name == y.problem.name == x.name
            assert x.problem.key == y.problem.key


@pytest.mark.parametrize("name", SHIPPED)
def test_a_network_lowers_the_same_from_the_memo(name: str) -> None:
    network = api.network(api.compile(STD / f"{name}.cd"), name)
    lower._BUILT.clear()
    for batch in (1, 3):
        reference = _unmemoized(network, batch)
        _same(reference, lower_network(network, batch))  # repeated layers from the memo
        _same(reference, lower_network(network, batch))  # every layer from the memo


def test_the_memo_is_shared_across_networks_and_keeps_names() -> None:
    # ResNet-50 lowered after ResNet-18: their common layers come from the memo, under
    # ResNet-50's names.
    resnet50 = api.network(api.compile(STD / "resnet50.cd"), "resnet50")
    resnet18 = api.network(api.compile(STD / "resnet18.cd"), "resnet18")
    alone = _unmemoized(resnet50, 1)
    lower._BUILT.clear()
    lower_network(resnet18, 1)
    _same(alone, lower_network(resnet50, 1))


def _conv(name: str, inputs: tuple[str, ...] = ("x",), **attributes: object) -> spec.Layer:
    fields: dict[str, object] = {"out_channels": 8, "kernel": (3, 3), **attributes}
    return spec.ConvLayer(name=name, inputs=inputs, **fields)  # type: ignore[arg-type]


def test_only_the_name_and_the_inputs_names_are_ignored() -> None:
    lower._BUILT.clear()
    shape = (4, 10, 10)
    a = lower_layer(_conv("a"), [shape])
    b = lower_layer(_conv("b", inputs=("y",)), [shape])
    assert a is not None and b is not None
    assert (a.name, b.name) == ("a", "b")
    assert a.key == b.key and a.tensors == b.tensors and a.bounds == b.bounds
    # Each of these differs from `a` in one thing, so each is its own loop nest: the
    # bounds (C, K, P, R, or N) or the projections (stride, dilation) differ.
    others = [lower_layer(_conv("c", stride=(2, 2)), [shape]),
              lower_layer(_conv("d", dilation=(2, 2)), [(4, 12, 12)]),
              lower_layer(_conv("e", out_channels=16), [shape]),
              lower_layer(_conv("f", kernel=(1, 1)), [shape]),
              lower_layer(_conv("g"), [(5, 10, 10)]),
              lower_layer(_conv("h"), [shape], batch=2)]
    keys = {a.key} | {o.key for o in others if o is not None}
    assert len(keys) == 1 + len(others)
    # Layers alike in everything the memo could see but the attribute: a 3x3 kernel over a
    # 3x3 input gives one output row at stride 1 and 2, but the input's projection is
    # 1*P + 1*R against 2*P + 1*R.
    unit = lower_layer(_conv("i"), [(4, 3, 3)])
    strided = lower_layer(_conv("j", stride=(2, 2)), [(4, 3, 3)])
    assert unit is not None and strided is not None
    assert unit.bounds == strided.bounds and unit.key != strided.key
    rows = {p.name: [axis.terms for axis in p.tensor("input").axes][2] for p in (unit, strided)}
    p_dim, r_dim = unit.dims.index("P"), unit.dims.index("R")
    assert rows == {"i": ((p_dim, 1), (r_dim, 1)), "j": ((p_dim, 2), (r_dim, 1))}
    # By hand: stride 2 over 10 rows with a 3-row kernel and no pad gives 4 output rows;
    # dilation 2 over 12 rows spans 5 rows, so 8 outputs; the rest 8 as for `a`.
    assert [dict(zip(o.dims, o.bounds, strict=True))["P"] for o in others
            if o is not None] == [4, 8, 8, 10, 8, 8]


def test_the_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lower, "MAX_BUILT", 3)
    network = api.network(api.compile(STD / "mobilenet_v2.cd"), "mobilenet_v2")
    unbounded = _unmemoized(network, 1)
    lower._BUILT.clear()
    bounded = lower_network(network, 1)
    assert len(lower._BUILT) <= 3
    _same(unbounded, bounded)
