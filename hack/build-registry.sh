#!/usr/bin/env bash
# Builds `registry`, the CNCF distribution OCI registry that the release tests push the
# chart to, from the Go module proxy into the tools cache (keyed by version), and links it
# into <cache>/bin. Its own cmd/registry links every cloud storage driver (S3, GCS, Azure
# SDKs: most of its build time); the tests need the filesystem driver only, so this builds
# a small main of the same registry package with just that driver.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

cache="${WANDB_LAUNCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wandb-launch}"
dir="$cache/registry-$DISTRIBUTION_VERSION"
module=github.com/distribution/distribution/v3
export CGO_ENABLED=0 GOFLAGS=-mod=mod
mkdir -p "$cache/bin"

if [[ ! -x "$dir/registry" ]]; then
  echo "build-registry: building registry $DISTRIBUTION_VERSION" >&2
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  (
    cd "$work"
    go mod init wandb-launch.local/registry >/dev/null 2>&1
    go mod edit -require="$module@$DISTRIBUTION_VERSION"
    cat > main.go <<'GO'
// The distribution registry with the filesystem storage driver only.
package main

import (
	"github.com/distribution/distribution/v3/registry"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

func main() {
	// RootCmd exits non-zero itself when serve fails.
	_ = registry.RootCmd.Execute()
}
GO
    go build -trimpath -ldflags="-s -w -X $module/version.version=$DISTRIBUTION_VERSION" -o "$dir.tmp/registry" .
  )
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi
ln -sf "$dir/registry" "$cache/bin/registry"
