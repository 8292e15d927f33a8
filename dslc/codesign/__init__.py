"""Co-design search over network spaces x accelerator design spaces.

`request` elaborates one request (its spaces, designs, mapper options, accuracies) into the
value every stage and worker takes; `designs` enumerates and builds designs; `evaluate` maps
pairs (cached, stored in SQLite, in parallel); `planner` decides which pairs to evaluate
(exhaustive, semi-decoupled, random) and runs the plan; `metrics` holds the objective,
constraints, rank statistics and Pareto fronts. JSON and CSV forms are in dslc.export.
"""
