#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler, etcd and KWOK (simulated
# nodes) from the Go module proxy
# into a cache outside the checkout, keyed by version. A later run reuses the cache.
# Usage: hack/build-control-plane.sh   (links them into <cache>/bin and prints that directory)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

cache="$(python3 "$here/../plugin/wandb_launch/toolcache.py")"
k8s_bin="$cache/kubernetes-$KUBERNETES_VERSION"
etcd_bin="$cache/etcd-$ETCD_VERSION"
kwok_bin="$cache/kwok-$KWOK_VERSION"
k8s_cmds="kube-apiserver kube-controller-manager kube-scheduler"
export CGO_ENABLED=0 GOFLAGS=-mod=mod
log() { echo "build-control-plane: $*" >&2; }

# A cached binary counts only if it reports the pinned release (builds without the
# version stamp below report v0.0.0-master, which helm's kubeVersion check refuses).
built_version_ok() {
  [[ -x "$1" ]] && [[ "$("$1" --version 2>/dev/null)" == "Kubernetes $KUBERNETES_VERSION" ]]
}

# What `make` in kubernetes/kubernetes stamps into its binaries (hack/lib/version.sh):
# /version and `--version` report the release, not v0.0.0-master.
version_ldflags() {
  local commit="$1" minor="${KUBERNETES_VERSION#v1.}" flags="-s -w" pkg
  minor="${minor%%.*}"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitCommit=$commit -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$flags"
}

build_kubernetes() {
  local cmd ok=1
  for cmd in $k8s_cmds; do built_version_ok "$k8s_bin/$cmd" || ok=0; done
  [[ $ok == 1 ]] && return
  local work minor
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  minor="${KUBERNETES_VERSION#v1.}"           # e.g. 36.3
  log "kubernetes $KUBERNETES_VERSION: resolving modules in $work"
  (
    cd "$work"
    go mod init wandb-launch.local/controlplane >/dev/null 2>&1
    go mod edit -require="k8s.io/kubernetes@$KUBERNETES_VERSION"
    # k8s.io/kubernetes requires its staging modules at v0.0.0 and its own replace
    # lines are ignored for a dependency: pin each to the same release here.
    go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" > module.json
    python3 -c 'import json,sys; print(json.load(open("module.json"))["GoMod"])' > gomod.path
    python3 -c 'import json,sys; print((json.load(open("module.json")).get("Origin") or {}).get("Hash", "unknown"))' > commit.txt
    sed -n '/^replace (/,/^)/p' "$(cat gomod.path)" \
      | awk '$2 == "=>" && $1 ~ /^k8s.io\// {print $1}' > staging.txt
    while read -r mod; do
      go mod edit -replace="$mod=$mod@v0.$minor"
    done < staging.txt
    for cmd in $k8s_cmds; do
      mkdir -p "cmd/$cmd"
    done
    cat > cmd/kube-apiserver/main.go <<'GO'
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() { os.Exit(cli.Run(app.NewAPIServerCommand())) }
GO
    cat > cmd/kube-controller-manager/main.go <<'GO'
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() { os.Exit(cli.Run(app.NewControllerManagerCommand())) }
GO
    cat > cmd/kube-scheduler/main.go <<'GO'
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-scheduler/app"
)

func main() { os.Exit(cli.Run(app.NewSchedulerCommand())) }
GO
    go mod tidy >&2
    mkdir -p "$k8s_bin.tmp"
    for cmd in $k8s_cmds; do
      log "building $cmd"
      go build -trimpath -ldflags="$(version_ldflags "$(cat commit.txt)")" -o "$k8s_bin.tmp/$cmd" "./cmd/$cmd"
    done
  )
  rm -rf "$k8s_bin" && mv "$k8s_bin.tmp" "$k8s_bin"
}

build_etcd() {
  [[ -x "$etcd_bin/etcd" ]] && return
  local work
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  log "etcd $ETCD_VERSION: building in $work"
  (
    cd "$work"
    go mod init wandb-launch.local/etcd >/dev/null 2>&1
    go mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION"
    cat > main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
    go mod tidy >&2
    mkdir -p "$etcd_bin.tmp"
    go build -trimpath -ldflags='-s -w' -o "$etcd_bin.tmp/etcd" .
  )
  rm -rf "$etcd_bin" && mv "$etcd_bin.tmp" "$etcd_bin"
}

# KWOK keeps Node objects Ready and moves pods through their phases: no container runs.
build_kwok() {
  [[ -x "$kwok_bin/kwok" ]] && return
  local work
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  log "kwok $KWOK_VERSION: building in $work"
  (
    cd "$work"
    go mod init wandb-launch.local/kwok >/dev/null 2>&1
    go mod edit -require="sigs.k8s.io/kwok@$KWOK_VERSION"
    mkdir -p "$kwok_bin.tmp"
    go build -trimpath -ldflags="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" -o "$kwok_bin.tmp/kwok" sigs.k8s.io/kwok/cmd/kwok
  )
  rm -rf "$kwok_bin" && mv "$kwok_bin.tmp" "$kwok_bin"
}

start=$SECONDS
build_etcd
build_kwok
build_kubernetes
mkdir -p "$cache/bin"
for cmd in $k8s_cmds; do ln -sf "$k8s_bin/$cmd" "$cache/bin/"; done
ln -sf "$etcd_bin/etcd" "$kwok_bin/kwok" "$cache/bin/"
log "ready in $((SECONDS - start)) s"
echo "$cache/bin"
