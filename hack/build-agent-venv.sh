#!/usr/bin/env bash
# Installs the launch agent's own Python environment from PyPI into the tools cache, keyed
# by the wandb version: `wandb[launch]==<chart appVersion>`, as in the agent image. It is
# apart from the project's .venv because its extras (kubernetes_asyncio, boto3, the Google
# and Azure SDKs) pin versions that need not agree with the `kubernetes` client the
# project uses. The agent-in-the-loop tests (tests/agent/) run `wandb launch-agent` from it.
# Usage: hack/build-agent-venv.sh   (prints the venv directory)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="$(awk -F'"' '/^appVersion:/ {print $2}' "$here/../chart/Chart.yaml")"
[[ -n "$version" ]] || { echo "build-agent-venv: no appVersion in chart/Chart.yaml" >&2; exit 1; }
cache="${WANDB_LAUNCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wandb-launch}"
venv="$cache/agent-venv-wandb-$version"
log() { echo "build-agent-venv: $*" >&2; }

if [[ ! -f "$venv/.complete" ]]; then
  start=$SECONDS
  log "installing wandb[launch]==$version into $venv"
  rm -rf "$venv" "$venv.tmp"
  # Built in place under its final name: a venv's scripts carry their absolute path.
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "wandb[launch]==$version"
  "$venv/bin/python" -c "import wandb, kubernetes_asyncio; assert wandb.__version__ == '$version', wandb.__version__"
  touch "$venv/.complete"
  log "ready in $((SECONDS - start)) s"
fi
echo "$venv"
