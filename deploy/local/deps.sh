#!/usr/bin/env bash
# Installs what sohoa needs on a Debian machine, only what is missing.
# Debian packages via apt-get (needs root), pinned Go tools via `go install`.
set -euo pipefail

APT_PKGS=(
  tesseract-ocr tesseract-ocr-vie tesseract-ocr-osd tesseract-ocr-eng
  libtesseract-dev libleptonica-dev
  redis-server poppler-utils qpdf softhsm2 opensc libnss3-tools
  fonts-liberation2 fonts-dejavu-core curl jq
  chromium
)
VERSITYGW_VERSION=v1.8.0

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
echo "deps: ok"
