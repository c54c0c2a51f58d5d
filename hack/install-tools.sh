#!/usr/bin/env bash
# Installs the command-line tools the tests and the demo use, from the package
# registries only, into a cache outside the checkout keyed by version:
#   helm, helm4 (for the plugin tests), ct (chart-testing), actionlint and (hack/build-registry.sh)
#   the OCI registry of the release tests from the Go module proxy, checkov and ct's Python
#   linters (yamllint, yamale) into a venv of their own (checkov pins many packages).
# Prints the bin directory to put on PATH.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

cache="$(python3 "$here/../plugin/wandb_launch/toolcache.py")"
bin="$cache/bin"
mkdir -p "$bin"
export CGO_ENABLED=0
log() { echo "install-tools: $*" >&2; }

# Builds a command of a Go module through a throwaway main module: `go install m@v`
# asks the proxy for the module's version list, which it refuses for chart-testing.
go_tool() {  # name module version package [ldflags]
  local name=$1 module=$2 version=$3 package=$4 ldflags=${5:-} dir="$cache/$1-$3"
  if [[ ! -x "$dir/$name" ]]; then
    log "building $name $version"
    local work
    work="$(mktemp -d)"
    (
      cd "$work"
      go mod init "wandb-launch.local/$name" >/dev/null 2>&1
      go mod edit -require="$module@$version"
      GOFLAGS=-mod=mod go build -trimpath -ldflags="-s -w $ldflags" -o "$dir.tmp/$name" "$package"
    )
    rm -rf "$work" "$dir" && mv "$dir.tmp" "$dir"
  fi
  ln -sf "$dir/$name" "$bin/$name"
}

# What helm's own Makefile stamps in: its version, and for Helm 3 the Kubernetes version it
# assumes offline (its client-go minor; without it `helm template` assumes 1.20). Helm 4
# reads that from client-go at run time.
helm_ldflags() {  # module version
  local module=$1 version=$2
  local flags="-X $module/internal/version.version=$version"
  if [[ "$module" == helm.sh/helm/v3 ]]; then
    local gomod k8s_minor
    gomod="$(GOFLAGS=-mod=mod go mod download -json "$module@$version" \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')"
    k8s_minor="$(awk '$1 == "k8s.io/client-go" {split($2, v, "."); print v[2]}' "$gomod")"
    for pkg in "$module/pkg/chartutil" "$module/pkg/lint/rules"; do
      flags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
    done
  fi
  echo "$flags"
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

go_tool helm helm.sh/helm/v3 "$HELM_VERSION" helm.sh/helm/v3/cmd/helm "$(helm_ldflags helm.sh/helm/v3 "$HELM_VERSION")"
go_tool helm4 helm.sh/helm/v4 "$HELM4_VERSION" helm.sh/helm/v4/cmd/helm "$(helm_ldflags helm.sh/helm/v4 "$HELM4_VERSION")"
go_tool ct github.com/helm/chart-testing/v3 "$CHART_TESTING_VERSION" github.com/helm/chart-testing/v3/ct
go_tool actionlint github.com/rhysd/actionlint "$ACTIONLINT_VERSION" github.com/rhysd/actionlint/cmd/actionlint \
  "-X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION"
"$here/build-registry.sh"
python_tools
echo "$bin"
