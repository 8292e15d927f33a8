"""Why a layer cannot be mapped: `NoValidMappingError`, a `CannotRunError` with reasons.

Raised by the map space when its constraints leave nothing to choose (dslc.mapper.space,
dslc.mapper.constraints) and by the search when no candidate fits (dslc.mapper.search). Its
own module so that both can raise it without importing each other.
"""

from __future__ import annotations

from dslc.diagnostics.diagnostic import CannotRunError


class NoValidMappingError(CannotRunError):
    """No mapping of the problem can run on the accelerator; `reasons` says why."""

    def __init__(self, problem: str, accelerator: str, reasons: tuple[str, ...]) -> None:
        super().__init__(f"no valid mapping of `{problem}` on `{accelerator}`", reasons)
        self.problem = problem
        self.accelerator = accelerator

    def __reduce__(self) -> tuple[type[NoValidMappingError], tuple[str, str, tuple[str, ...]]]:
        # Raised in a worker process of a layer-parallel map_network, re-raised here.
        return type(self), (self.problem, self.accelerator, self.reasons)
