"""Why a layer cannot be mapped: `NoValidMappingError` and `SearchLimitError`, each a
`CannotRunError` with reasons.

`NoValidMappingError` is a fact about the design: no mapping of the layer can run on the
accelerator under the constraints (raised by the map space when its constraints leave nothing
to choose, dslc.mapper.space and dslc.mapper.constraints, and by the search when no
candidate fits, dslc.mapper.search). A co-design counts such a pair as infeasible.
`SearchLimitError` is a fact about the mapper: it cannot search this layer's map space as
asked (the exhaustive search on a space too large to enumerate, bounds the cost model cannot
count, more loop slots than a candidate's key holds, factor rules none of the sampled splits
obey). Mappings may exist, so a co-design must not count the pair as infeasible: it stops
with the reason. Its own module so that the map space and the search can raise both without
importing each other.
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


class SearchLimitError(CannotRunError):
    """The mapper cannot search the map space of `problem` (a layer of `network`, when
    known) on `accelerator` as asked; this says nothing about whether a mapping exists.
    `reasons` says which limit and the way out."""

    def __init__(self, problem: str, accelerator: str, reasons: tuple[str, ...],
                 network: str = "") -> None:
        of = f" of `{network}`" if network else ""
        super().__init__(f"the mapper cannot search the mappings of `{problem}`{of} on "
                         f"`{accelerator}` as asked", reasons)
        self.problem = problem
        self.accelerator = accelerator
        self.network = network

    def __reduce__(self) -> tuple[type[SearchLimitError],
                                  tuple[str, str, tuple[str, ...], str]]:
        return type(self), (self.problem, self.accelerator, self.reasons, self.network)


class DeadlinePassed(Exception):
    """A search stopped at its deadline (a co-design's time limit) before it finished: what
    it was computing is abandoned, nothing partial is returned. Not a user error: the caller
    that set the deadline catches it."""
