"""dslc: a compiler for hardware/software co-design of neural-network accelerators.

The package turns `.cd` specs into lint diagnostics, spec models, loop nests, mappings, costs
and co-design search results. `dslc.api` is the programmatic entry point; `dslc.cli` is the
command line. Nothing outside `dslc.cli` and `dslc.report` prints.
"""

__version__ = "0.1.0"
