#!/usr/bin/env bash
# Installs the system libraries WeasyPrint renders with (Debian/Ubuntu), when missing.
# libharfbuzz-subset0 lets WeasyPrint subset fonts with HarfBuzz instead of fontTools (~4x faster).
set -euo pipefail
need=()
have_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }
have_lib libpango-1.0.so || need+=(libpango-1.0-0 libpangoft2-1.0-0)
have_lib libharfbuzz-subset.so || need+=(libharfbuzz-subset0)
[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "warning: missing system libraries (${need[*]}); install them with your package manager" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "warning: not root and no sudo: please install ${need[*]}" >&2; exit 0
  fi
fi
echo "Installing system libraries: ${need[*]}"
$SUDO apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
