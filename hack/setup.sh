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

# helm, for the chart's lint, template and install tests.
log "helm: $(bash hack/install-helm.sh)"

# moto's server (PyPI), the AWS API emulator the AWS provider's tests drive.
log "moto: $(bash hack/install-moto.sh)"

# Mailpit (Go module proxy): a real SMTP server for the email notifications, in
# the tests and in the sandbox.
log "mailpit: $(bash hack/install-mailpit.sh)"

# promtool (Debian's prometheus package) for the alerting-rule and dashboard tests
# (the package's Prometheus server draws docs/images/dashboard.png), Lua 5.1,
# the interpreter Argo CD embeds, for the health-check tests, and Chromium, the
# browser the portal's tests drive (through playwright-core; no browser download).
missing=()
command -v promtool >/dev/null || missing+=(prometheus)
command -v lua5.1 >/dev/null || missing+=(lua5.1)
if [[ -z "${TIMEBOX_CHROMIUM:-}" ]] && ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
  missing+=(chromium fonts-liberation)
fi
if [[ ${#missing[@]} -gt 0 ]]; then
  sudo=()
  if [[ "$(id -u)" -ne 0 ]]; then
    command -v sudo >/dev/null || { log "install ${missing[*]} (Debian packages) and re-run"; exit 1; }
    sudo=(sudo)
  fi
  command -v apt-get >/dev/null || { log "install ${missing[*]} with your package manager and re-run"; exit 1; }
  log "installing ${missing[*]} from Debian"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
