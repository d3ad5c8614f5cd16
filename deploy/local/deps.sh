#!/usr/bin/env bash
# Installs what sohoa needs on a Debian machine, only what is missing.
# Debian packages via apt-get (needs root), pinned Go tools via `go install`,
# the pinned OpenAPI linter via `npm ci`.
set -euo pipefail

APT_PKGS=(
  tesseract-ocr tesseract-ocr-vie tesseract-ocr-osd tesseract-ocr-eng
  libtesseract-dev libleptonica-dev
  redis-server redis-sentinel poppler-utils qpdf softhsm2 opensc libnss3-tools
  fonts-liberation2 fonts-dejavu-core curl jq
  chromium
  # systemd-analyze verifies deploy/systemd/ in make test (systemd need not run)
  systemd
)
VERSITYGW_VERSION=v1.8.0
# The OpenID provider the single sign-on test signs in at: zitadel's example
# OP (in-memory users and clients), built from the Go module proxy into the
# checkout's bin/ (gitignored) under a name of its own.
ZITADEL_OIDC_VERSION=v3.52.0
# kubeconform validates deploy/k8s/ in `make test` (deploy/deploy_test.go),
# offline: the schemas are made from the Kubernetes definitions its own
# module ships (fixtures/cache), which `go install` leaves in the module cache.
KUBECONFORM_VERSION=v0.7.0

missing=()
for p in "${APT_PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "deps: installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi

GOBIN_DIR="$(go env GOPATH)/bin"
# The binary records its module version; reinstall only when it differs.
if ! go version -m "$GOBIN_DIR/versitygw" 2>/dev/null | grep -q "github.com/versity/versitygw[[:space:]]*${VERSITYGW_VERSION}[[:space:]]"; then
  echo "deps: go install versitygw@${VERSITYGW_VERSION}"
  GOFLAGS=-buildvcs=false go install "github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION}"
fi
repo="$(cd "$(dirname "$0")/../.." && pwd)"
OP_BIN="$repo/bin/zitadel-oidc-op"
if ! go version -m "$OP_BIN" 2>/dev/null | grep -q "github.com/zitadel/oidc/v3[[:space:]]*${ZITADEL_OIDC_VERSION}[[:space:]]"; then
  echo "deps: go install github.com/zitadel/oidc/v3/example/server@${ZITADEL_OIDC_VERSION} as bin/zitadel-oidc-op"
  tmp="$(mktemp -d)"
  GOBIN="$tmp" GOFLAGS=-buildvcs=false go install "github.com/zitadel/oidc/v3/example/server@${ZITADEL_OIDC_VERSION}"
  mkdir -p "$repo/bin"
  mv "$tmp/server" "$OP_BIN"
  rmdir "$tmp"
fi
KC_BIN="$repo/bin/kubeconform"
if ! go version -m "$KC_BIN" 2>/dev/null | grep -q "github.com/yannh/kubeconform[[:space:]]*${KUBECONFORM_VERSION}[[:space:]]"; then
  echo "deps: go install github.com/yannh/kubeconform/cmd/kubeconform@${KUBECONFORM_VERSION} as bin/kubeconform"
  mkdir -p "$repo/bin"
  GOBIN="$repo/bin" GOFLAGS=-buildvcs=false go install "github.com/yannh/kubeconform/cmd/kubeconform@${KUBECONFORM_VERSION}"
fi
# @redocly/cli lints api/openapi.json in `make test` (api/lint_test.go). Its
# version and checksum are pinned by deploy/local/redocly/package.json and
# package-lock.json; `npm ci` installs exactly that into
# $SOHOA_LOCAL_DIR/tools/redocly (default .local/tools/redocly), and only
# when the installed version differs, so later runs need no network.
# The machine's Node.js must be one the pinned version supports (20.19+).
RED_SRC="$repo/deploy/local/redocly"
RED_DIR="${SOHOA_LOCAL_DIR:-$repo/.local}/tools/redocly"
REDOCLY_CLI_VERSION="$(jq -r '.dependencies["@redocly/cli"]' "$RED_SRC/package.json")"
if [ "$(jq -r .version "$RED_DIR/node_modules/@redocly/cli/package.json" 2>/dev/null)" != "$REDOCLY_CLI_VERSION" ]; then
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "deps: Node.js and npm are needed for @redocly/cli $REDOCLY_CLI_VERSION (Node.js 20.19 or later); install them" >&2
    exit 1
  fi
  if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
    echo "deps: @redocly/cli $REDOCLY_CLI_VERSION needs Node.js 20.19 or later; this is $(node --version)" >&2
    exit 1
  fi
  echo "deps: npm ci @redocly/cli@${REDOCLY_CLI_VERSION} into $RED_DIR"
  rm -rf "$RED_DIR"
  mkdir -p "$RED_DIR"
  cp "$RED_SRC/package.json" "$RED_SRC/package-lock.json" "$RED_DIR/"
  (cd "$RED_DIR" && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "deps: ok"
