"""Mappings: the cost model's mapping IR (`mapping`) and the validity checks of written
mappings (`check`). Both take the resolved accelerator (`dslc.arch.ArchModel`), never a
spec: `mapping.mapping_from_spec(spec, problem, arch)` builds the IR from a `MappingSpec`;
`mapping.check_mapping(mapping, problem, arch)` says why a mapping cannot run
(`mapping_issues`: with diagnostic codes). `constraints` states what map-space constraints
require of a problem and decides whether a factor, an order or a keep set obeys them, for
the mapper's map space and for a written mapping alike (`mapping_violations`, E612). This
package imports dslc.arch, dslc.lower and dslc.spec only, never the cost model; searching
mappings lives in dslc.mapper."""
