#!/usr/bin/env bash
# Builds helm once from the Go module proxy, and prints the binary's path. The
# ldflags are those of helm's own Makefile: without them helm reports itself as
# v3.0 and believes every cluster is Kubernetes v1.20, so `helm template` fails
# the chart's kubeVersion check.
set -euo pipefail
HELM_VERSION="${TIMEBOX_HELM_VERSION:-v3.22.0}"
K8S_MAJOR=1 K8S_MINOR=35 # the Kubernetes the sandbox runs (hack/build-control-plane.sh)
export GO_LDFLAGS="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
  -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$K8S_MAJOR -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$K8S_MINOR \
  -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$K8S_MAJOR -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$K8S_MINOR"
exec bash "$(dirname "$0")/go-install.sh" helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" "k8s$K8S_MAJOR.$K8S_MINOR"
