"""Adopt a running launch agent: turn it into this chart's values, then replace it.

Two kinds of agent are known: a release of W&B's public `launch-agent` chart
(`official`) and an agent applied by hand from the guide's manifests (`handapplied`).
Each reads the cluster and yields an `Adoption` (`model`): our values (never a secret in
them), what became of every key, the secrets to copy, and the old agent's objects;
`switch` then installs ours, waits until it is Available and removes the old agent.
"""
