"""The mapping search: the best mapping of every loop nest onto an accelerator.

Everything here takes the resolved accelerator (`ArchModel`, from
`dslc.arch.resolve_accelerator`), never a spec. `space.MapSpace` is what can be chosen
(factorisations, loop orders, keep sets, within the map-space constraints that
`constraints` resolves for a layer) and its exact size;
`search.map_problem(problem, arch, options) -> MapResult` searches it for one problem;
`network.map_network(lowered, arch, options) -> NetworkMapResult` maps every layer of a
network, each distinct problem once (a mapping's JSON, loop-nest and `.cd` forms are in
dslc.export). docs/design/mapper.md explains the choices.
"""

from dslc.mapper.errors import NoValidMappingError, SearchLimitError
from dslc.mapper.network import (
    LayerMapResult,
    MapCache,
    NetworkMapResult,
    map_network,
)
from dslc.mapper.search import MapperOptions, MapResult, map_problem

__all__ = ["LayerMapResult", "MapCache", "MapResult", "MapperOptions",
           "NetworkMapResult", "NoValidMappingError", "SearchLimitError",
           "map_network", "map_problem"]
