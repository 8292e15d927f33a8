"""The mapping search: the best mapping of every loop nest onto an accelerator.

Everything here takes the resolved accelerator (`ArchModel`, from
`dslc.arch.resolve_accelerator`), never a spec. `space.MapSpace` is what can be chosen
(factorisations, loop orders, keep sets) and its exact size;
`search.map_problem(problem, arch, options) -> MapResult` searches it for one problem;
`network.map_network(lowered, arch, options) -> NetworkMapResult` maps every layer of a
network, each distinct problem once; `render` gives a mapping as JSON, as a loop nest and
as a pasteable `mapping` block. docs/design/mapper.md explains the choices.
"""

from dslc.mapper.network import (
    LayerMapResult,
    MapCache,
    NetworkMapResult,
    lower_bounds,
    map_network,
)
from dslc.mapper.render import (
    format_loop_nest,
    map_result_to_json,
    mapping_to_cd,
    mapping_to_json,
    network_result_to_json,
)
from dslc.mapper.search import MapperOptions, MapResult, NoValidMappingError, map_problem

__all__ = ["LayerMapResult", "MapCache", "MapResult", "MapperOptions", "NetworkMapResult",
           "NoValidMappingError", "format_loop_nest", "lower_bounds", "map_network",
           "map_problem", "map_result_to_json", "mapping_to_cd", "mapping_to_json",
           "network_result_to_json"]
