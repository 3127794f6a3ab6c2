#!/usr/bin/env bash
# Builds helm once from the Go module proxy into a per-version cache outside the
# repository, and prints the binary's path.
set -euo pipefail
HELM_VERSION="${TIMEBOX_HELM_VERSION:-v3.22.0}"
CACHE_DIR="${TIMEBOX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/timebox}"
BIN_DIR="$CACHE_DIR/tools/helm-$HELM_VERSION"
if [[ ! -x "$BIN_DIR/helm" ]]; then
  command -v go >/dev/null || { echo "[install-helm] Go is required to build helm" >&2; exit 1; }
  mkdir -p "$BIN_DIR"
  exec 9>"$BIN_DIR/.lock"
  flock 9
  if [[ ! -x "$BIN_DIR/helm" ]]; then
    echo "[install-helm] building helm $HELM_VERSION (first time only)" >&2
    GOBIN="$BIN_DIR" CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN="${GOTOOLCHAIN:-local}" \
      go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
  fi
fi
echo "$BIN_DIR/helm"
