"""Spec models: the frozen pydantic values that elaboration produces and later stages read."""
