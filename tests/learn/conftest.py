"""Fixtures shared by the learned evaluator's tests: `small`, the pair evaluator and the
evaluator's space of small.cd's request (skipped without torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

SMALL = Path(__file__).with_name("small.cd")


@pytest.fixture(scope="module")
def small() -> tuple[Any, Any]:
    torch = pytest.importorskip("torch")
    pytest.importorskip("sklearn")  # the learn extra: dslc.learn.require needs both
    from dslc import api
    from dslc.codesign.dance import evaluator as ev
    from dslc.codesign.designs import Instances
    from dslc.codesign.evaluate import PairEvaluator, ResultStore

    torch.set_num_threads(1)
    program = api.compile(SMALL)
    instances = Instances(program.networks, program.accelerators)
    request = api.request(program, None, instances=instances)
    evaluator = PairEvaluator(request, ResultStore(None), instances)
    return evaluator, ev.learned_space(evaluator)
