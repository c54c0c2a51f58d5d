"""Benchmarks of the plugin, printed as figures next to a peer measured in the same run.

`python -m benchmarks` (or `make bench`) from the repository root runs them all.
"""
