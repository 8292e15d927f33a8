"""Co-design search over network spaces x accelerator design spaces.

`space` enumerates designs, `evaluate` maps pairs (cached, stored in SQLite, in parallel),
`planner` decides which pairs to evaluate (exhaustive, semi-decoupled, random) and runs the
plan, `metrics` holds the objective, constraints, rank statistics and Pareto fronts, and
`result` turns plans and outcomes into JSON and CSV data.
"""
