#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager and kubectl from the Go module proxy, once, into a
# cache outside the repository keyed by version. Prebuilt release binaries are not
# used so that the only network dependency is the Go module proxy.
#
# Usage: hack/build-control-plane.sh            # prints the bin directory
# Env:   TIMEBOX_K8S_VERSION (default below), TIMEBOX_ETCD_VERSION, TIMEBOX_CACHE_DIR
set -euo pipefail

K8S_VERSION="${TIMEBOX_K8S_VERSION:-v1.35.4}"
# The etcd version Kubernetes itself pins in its go.mod for this release.
ETCD_VERSION="${TIMEBOX_ETCD_VERSION:-v3.6.5}"
CACHE_DIR="${TIMEBOX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/timebox}"
BIN_DIR="$CACHE_DIR/control-plane/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"

log() { echo "[build-control-plane] $*" >&2; }

BINARIES=(etcd kube-apiserver kube-controller-manager kubectl)
missing() {
  local b out=()
  for b in "${BINARIES[@]}"; do [[ -x "$BIN_DIR/$b" ]] || out+=("$b"); done
  echo "${out[*]:-}"
}

if [[ -z "$(missing)" ]]; then
  echo "$BIN_DIR"
  exit 0
fi

command -v go >/dev/null || { log "Go is required to build the control plane (https://go.dev/doc/install)"; exit 1; }

mkdir -p "$BIN_DIR"
# Two builds (two test runs, npm start beside npm test) may race; the second waits
# for the first, and says so rather than looking stuck: it names the holder,
# which records itself in .lock.owner once it has the lock.
LOCK="$BIN_DIR/.lock"
exec 9>"$LOCK"
if ! flock -n 9; then
  owner="$(cat "$LOCK.owner" 2>/dev/null || true)"
  log "waiting for another build of the control plane (${owner:-pid unknown}, in $BIN_DIR) to finish"
  waited=$SECONDS
  flock 9
  log "the other build finished after $((SECONDS - waited))s"
fi
todo="$(missing)"
if [[ -z "$todo" ]]; then
  echo "$BIN_DIR"
  exit 0
fi
echo "pid $$, building since $(date -u +%H:%M:%SZ)" >"$LOCK.owner"

WORK="$(mktemp -d)"
heartbeat=''
trap 'rm -rf "$WORK"; [[ -z "$heartbeat" ]] || kill "$heartbeat" 2>/dev/null || true' EXIT

# Progress: which binary, n of m, and how long each took. A build of
# kube-apiserver prints nothing for minutes, so a heartbeat says it is alive.
read -ra todo_list <<<"$todo"
total=${#todo_list[@]}
n=0
step() {
  n=$((n + 1))
  step_name="$1"
  step_start=$SECONDS
  log "building $step_name ($n of $total)${2:+: $2}"
  if [[ -n "$heartbeat" ]]; then kill "$heartbeat" 2>/dev/null || true; fi
  (
    # Not the lock's holder: were this script killed, the lock must go with it.
    # Nor, through sleep, of stderr: a reader waits for every writer to close it.
    exec 9>&-
    while sleep "${TIMEBOX_BUILD_HEARTBEAT_SECONDS:-60}" >/dev/null 2>&1 && kill -0 $$ 2>/dev/null; do
      log "still building $step_name ($n of $total), $((SECONDS - step_start))s so far"
    done
  ) &
  heartbeat=$!
}
step_done() {
  kill "$heartbeat" 2>/dev/null || true
  heartbeat=''
  log "built $step_name ($n of $total) in $((SECONDS - step_start))s"
}
export CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN="${GOTOOLCHAIN:-local}" GOWORK=off

build_etcd() {
  local dir="$WORK/etcd"
  mkdir -p "$dir"
  cat >"$dir/go.mod" <<MOD
module timebox.dev/build/etcd

go 1.25.0

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
MOD
  cat >"$dir/main.go" <<'SRC'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
SRC
  step etcd "$ETCD_VERSION"
  (cd "$dir" && go build -trimpath -o "$BIN_DIR/etcd.tmp" .)
  mv "$BIN_DIR/etcd.tmp" "$BIN_DIR/etcd"
  step_done
}

build_kube() {
  local dir="$WORK/kube" minor mod_file
  mkdir -p "$dir"
  minor="${K8S_VERSION#v1.}"
  minor="${minor%%.*}"
  log "downloading k8s.io/kubernetes $K8S_VERSION from the Go module proxy"
  # k8s.io/kubernetes points each staging module at ./staging/...; a consumer has to
  # replace each with its published v0.X counterpart.
  mod_file="$(cd "$dir" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  {
    echo "module timebox.dev/build/kube"
    echo
    echo "go 1.25.0"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging/src/k8s\.io/[a-z0-9-]+' "$mod_file" |
      awk -v v="v0.${K8S_VERSION#v1.}" '{print "\t" $1 " => " $1 " " v}'
    echo ")"
  } >"$dir/go.mod"
  local pkg=k8s.io/component-base/version
  local ldflags="-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  local b note="$K8S_VERSION; the first Kubernetes binary also compiles what the others share, the longest step"
  for b in "$@"; do
    step "$b" "$note"
    note="$K8S_VERSION"
    (cd "$dir" && go build -trimpath -ldflags "$ldflags" -o "$BIN_DIR/$b.tmp" "k8s.io/kubernetes/cmd/$b")
    mv "$BIN_DIR/$b.tmp" "$BIN_DIR/$b"
    step_done
  done
}

kube_todo=()
for b in $todo; do
  if [[ "$b" == etcd ]]; then build_etcd; else kube_todo+=("$b"); fi
done
if [[ ${#kube_todo[@]} -gt 0 ]]; then build_kube "${kube_todo[@]}"; fi
log "control plane binaries ready in $BIN_DIR ($total built in ${SECONDS}s)"
rm -f "$LOCK.owner"
echo "$BIN_DIR"
