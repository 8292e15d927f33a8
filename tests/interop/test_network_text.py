"""Imported names made identifiers (dslc.interop.network_text.Names): unique, reserved
words suffixed, and linear in the number of names."""

from __future__ import annotations

import time

from dslc.interop.network_text import Names


def test_names_are_unique_and_suffixed_in_order() -> None:
    names = Names()
    got = [names.claim(w) for w in ("relu", "relu", "a", "a", "a_2", "a", "layer1.0/conv",
                                    "1x", "")]
    assert got == ["relu_1", "relu_2", "a", "a_2", "a_2_2", "a_3", "layer1_0_conv", "t1x",
                   "t"]


def test_many_layers_of_one_name_take_linear_time() -> None:
    # one activation module called 100,000 times (the layer limit) names every layer
    # `relu`: each claim tried every suffix taken before it (quadratic: 35 s for 20,000,
    # about 15 minutes for 100,000)
    names = Names()
    start = time.perf_counter()
    last = [names.claim("relu") for _ in range(100_000)][-1]
    assert last == "relu_100000"
    assert time.perf_counter() - start < 5
