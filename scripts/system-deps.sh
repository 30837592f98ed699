#!/usr/bin/env bash
# Installs the system libraries and fonts WeasyPrint renders with (Debian/Ubuntu), when missing.
# libharfbuzz-subset0 lets WeasyPrint subset fonts with HarfBuzz instead of fontTools (~4x faster).
# The invoice's own fonts (DejaVu, shipped in templates/fonts/) have no Chinese, Japanese, Korean,
# Indic or Thai glyphs; for names written in those scripts Pango falls back to the system's
# fonts: WenQuanYi Micro Hei (CJK, 1.6 MB) and Noto (Devanagari, Bengali, Tamil, Thai, ...; 12 MB).
set -euo pipefail
need=()
have_lib() { ldconfig -p 2>/dev/null | grep -F "$1" >/dev/null; }
have_font() {  # grep without -q: an early exit would fail fc-list under pipefail
  command -v fc-list >/dev/null 2>&1 && fc-list : family | grep -F "$1" >/dev/null
}
have_lib libpango-1.0.so || need+=(libpango-1.0-0 libpangoft2-1.0-0)
have_lib libharfbuzz-subset.so || need+=(libharfbuzz-subset0)
have_font "WenQuanYi Micro Hei" || need+=(fonts-wqy-microhei)
have_font "Noto Sans Devanagari" || need+=(fonts-noto-core)
[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "warning: missing system libraries or fonts (${need[*]}); install them with your package manager" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "warning: not root and no sudo: please install ${need[*]}" >&2; exit 0
  fi
fi
echo "Installing system libraries and fonts: ${need[*]}"
$SUDO apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
