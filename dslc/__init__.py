"""dslc: a compiler for hardware/software co-design of neural-network accelerators.

The package turns `.cd` specs into lint diagnostics, spec models, loop nests, mappings, costs
and co-design search results. `dslc.api` is the programmatic entry point (`api.compile`
once, then every function takes the compiled program); `dslc.cli` is the command line.
Nothing outside `dslc.cli` and `dslc.report` prints. docs/design/architecture.md maps the
packages and what each may import.
"""

__version__ = "0.1.0"
