#!/usr/bin/env bash
# Builds helm once from the Go module proxy, and prints the binary's path.
set -euo pipefail
exec bash "$(dirname "$0")/go-install.sh" helm helm.sh/helm/v3/cmd/helm "${TIMEBOX_HELM_VERSION:-v3.22.0}"
