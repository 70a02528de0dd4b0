"""Benchmarks of the planning core, run by `orderpilot bench` (not timed tests)."""
