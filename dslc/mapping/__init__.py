"""Mappings: the cost model's mapping IR (`mapping`) and the validity checks of written
mappings (`check`). `mapping.mapping_from_spec` builds the IR from a `MappingSpec`;
`mapping.check_mapping` says why a mapping cannot run. Searching mappings lives elsewhere."""
