#!/usr/bin/env bash
# Installs moto's server (an AWS API emulator, from PyPI) once into a per-version
# virtualenv outside the repository, and prints the moto_server path.
set -euo pipefail
MOTO_VERSION="${TIMEBOX_MOTO_VERSION:-5.2.5}"
CACHE_DIR="${TIMEBOX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/timebox}"
VENV="$CACHE_DIR/tools/moto-$MOTO_VERSION"
if [[ ! -x "$VENV/bin/moto_server" ]]; then
  command -v python3 >/dev/null || { echo "[install-moto] python3 is required" >&2; exit 1; }
  mkdir -p "$(dirname "$VENV")"
  exec 9>"$VENV.lock"
  flock 9
  if [[ ! -x "$VENV/bin/moto_server" ]]; then
    echo "[install-moto] installing moto[server] $MOTO_VERSION" >&2
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
  fi
fi
echo "$VENV/bin/moto_server"
