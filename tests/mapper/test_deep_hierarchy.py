"""A hierarchy too deep for the mapper's candidate keys is a CannotRunError with the reason,
never an internal error (issue 17): 400 memory levels over a conv's 7 dims make candidates
of 5,636 columns, past the 4,096 key multipliers (it was E900 `ValueError: candidates of
5636 columns; keys cover 4096`)."""

from __future__ import annotations

import pytest

from dslc import api
from dslc.mapper.errors import SearchLimitError


def _deep(levels: int) -> str:
    memories = "\n".join(f"    memory L{i} {{ size = {2 ** (55 - i // 8)}b, width = 64b }}"
                         for i in range(levels))
    return f"""
network n {{ input x: [8, 10, 10] layer a = conv(x, out = 8, kernel = 3) }}
accelerator deep {{
    word = 16b clock = 1GHz
    memory DRAM {{ width = 64b }}
{memories}
    fanout PE {{ mesh = 4 x 4 }}
    memory RF {{ size = 64 words }}
    compute MAC {{ }}
}}
"""


def test_a_hierarchy_past_the_keys_is_a_reason_not_an_internal_error() -> None:
    program = api.compile(text=_deep(400))
    assert not program.errors
    options = api.mapper_settings(search="heuristic", budget=50, seed=1)
    with pytest.raises(SearchLimitError) as caught:
        api.map_layer(program, "n", "a", "deep", options=options)
    assert caught.value.reasons == (
        "its map space has 404 loop slots (402 memory levels and the fanouts' axes) over 7 "
        "dims: a candidate has 5,636 columns, more than the 4,096 the mapper handles; use "
        "fewer memory levels or fanouts",)
