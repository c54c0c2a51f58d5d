#!/usr/bin/env bash
# Installs the command-line tools the tests and the demo use, from the package
# registries only, into a cache outside the checkout keyed by version:
#   helm and ct (chart-testing) from the Go module proxy, checkov and ct's Python
#   linters (yamllint, yamale) into a venv of their own (checkov pins many packages).
# Prints the bin directory to put on PATH.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

cache="${WANDB_LAUNCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wandb-launch}"
bin="$cache/bin"
mkdir -p "$bin"
export CGO_ENABLED=0
log() { echo "install-tools: $*" >&2; }

go_tool() {  # name module version
  local name=$1 module=$2 version=$3 dir="$cache/$1-$3"
  if [[ ! -x "$dir/$name" ]]; then
    log "building $name $version"
    GOBIN="$dir" go install -trimpath -ldflags='-s -w' "$module@$version"
  fi
  ln -sf "$dir/$name" "$bin/$name"
}

python_tools() {
  local dir="$cache/pytools-$CHECKOV_VERSION"
  if [[ ! -x "$dir/bin/checkov" ]]; then
    log "installing checkov $CHECKOV_VERSION, yamllint, yamale"
    rm -rf "$dir"
    python3 -m venv "$dir"
    "$dir/bin/pip" install -q "checkov==$CHECKOV_VERSION" "yamllint==$YAMLLINT_VERSION" "yamale==$YAMALE_VERSION" >&2
  fi
  for tool in checkov yamllint yamale; do ln -sf "$dir/bin/$tool" "$bin/$tool"; done
}

go_tool helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION"
go_tool ct github.com/helm/chart-testing/v3/ct "$CHART_TESTING_VERSION"
python_tools
echo "$bin"
