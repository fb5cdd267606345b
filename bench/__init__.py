"""Benchmarks that print ratio tables (`make bench`); never timed assertions in tests."""
