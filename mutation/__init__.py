"""Mutation testing of the chart's templates (our own mutator) and the plugin's Python (mutmut).

`make mutate` runs both; `python -m mutation --help` shows the flags. Not part of `make test`:
a full run takes tens of minutes. docs/testing.md says what it measures.
"""
