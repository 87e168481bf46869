#!/usr/bin/env bash
# `dagen preview` renders SVG/PNG with Graphviz's `dot`, and its tests open the HTML page in a headless
# Chromium. Install Debian's `graphviz` and `chromium` packages when either program is missing.
set -euo pipefail
missing=()
command -v dot >/dev/null 2>&1 || missing+=(graphviz)
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: dagen preview needs ${missing[*]} (Graphviz's dot and a Chromium browser on PATH)" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
# Recommends stay out: they pull in fonts and desktop integration the headless use never needs.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
dot -V
chromium --version
