#!/usr/bin/env bash
# Builds Mailpit (an SMTP server that keeps what it receives and shows it over an
# HTTP API) once from the Go module proxy into a per-version cache outside the
# repository, and prints the binary's path.
set -euo pipefail
MAILPIT_VERSION="${TIMEBOX_MAILPIT_VERSION:-v1.33.1}"
CACHE_DIR="${TIMEBOX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/timebox}"
BIN_DIR="$CACHE_DIR/tools/mailpit-$MAILPIT_VERSION"
if [[ ! -x "$BIN_DIR/mailpit" ]]; then
  command -v go >/dev/null || { echo "[install-mailpit] Go is required to build mailpit" >&2; exit 1; }
  mkdir -p "$BIN_DIR"
  exec 9>"$BIN_DIR/.lock"
  flock 9
  if [[ ! -x "$BIN_DIR/mailpit" ]]; then
    echo "[install-mailpit] building mailpit $MAILPIT_VERSION (first time only)" >&2
    GOBIN="$BIN_DIR" CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN="${GOTOOLCHAIN:-local}" \
      go install "github.com/axllent/mailpit@$MAILPIT_VERSION" >&2
  fi
fi
echo "$BIN_DIR/mailpit"
