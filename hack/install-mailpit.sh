#!/usr/bin/env bash
# Builds Mailpit (an SMTP server that keeps what it receives and shows it over an
# HTTP API) once from the Go module proxy, and prints the binary's path.
set -euo pipefail
exec bash "$(dirname "$0")/go-install.sh" mailpit github.com/axllent/mailpit "${TIMEBOX_MAILPIT_VERSION:-v1.33.1}"
