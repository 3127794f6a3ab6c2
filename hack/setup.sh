#!/usr/bin/env bash
# Installs what the tests and the local sandbox need beyond node_modules, once per
# machine; every step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "[setup] $*" >&2; }

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [[ "$node_major" -lt 24 ]]; then
  log "Node.js $(node --version) is on the PATH; run this through npm (npm run setup) so the project's Node.js 24 is used"
  exit 1
fi

# etcd, kube-apiserver and kubectl, built from the Go module proxy and cached by version.
bin_dir="$(bash hack/build-control-plane.sh)"
log "control plane: $bin_dir"
