#!/usr/bin/env bash
# go-install.sh NAME PACKAGE VERSION [TAG]: builds a Go tool once from the Go
# module proxy into a per-version cache outside the repository, and prints the
# binary's path. GO_LDFLAGS are passed to the build; TAG names such a variant in
# the cache. Concurrent callers wait for one build (flock).
set -euo pipefail
NAME="$1" PACKAGE="$2" VERSION="$3" TAG="${4:-}"
CACHE_DIR="${TIMEBOX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/timebox}"
BIN_DIR="$CACHE_DIR/tools/$NAME-$VERSION${TAG:+-$TAG}"
if [[ ! -x "$BIN_DIR/$NAME" ]]; then
  command -v go >/dev/null || { echo "[install-$NAME] Go is required to build $NAME" >&2; exit 1; }
  mkdir -p "$BIN_DIR"
  exec 9>"$BIN_DIR/.lock"
  flock 9
  if [[ ! -x "$BIN_DIR/$NAME" ]]; then
    echo "[install-$NAME] building $NAME $VERSION (first time only)" >&2
    GOBIN="$BIN_DIR" CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN="${GOTOOLCHAIN:-local}" \
      go install -ldflags "${GO_LDFLAGS:-}" "$PACKAGE@$VERSION" >&2
  fi
fi
echo "$BIN_DIR/$NAME"
