#!/usr/bin/env bash
# Install the comms console's browser assets (uPlot for the charts; axe-core for the accessibility
# test) from npm into the cache folder, exactly as package-lock.json pins them (`npm ci`), keyed
# by the lock file's hash so a changed lock installs afresh and a warm cache costs nothing.
# Prints the node_modules folder the worker serves them from (pipeline/console/assets.py).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${TOCSIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tocsin}"
key="$(sha256sum "$here/package-lock.json" | cut -c1-12)"
work="$cache/npm/console-$key"

if [ ! -f "$work/.complete" ]; then
  if ! command -v npm >/dev/null; then
    echo "console assets: npm not found; the console's charts fall back to tables" >&2
    exit 0
  fi
  rm -rf "$work"
  mkdir -p "$work"
  cp "$here/package.json" "$here/package-lock.json" "$work/"
  (cd "$work" && npm ci --silent --no-audit --no-fund --ignore-scripts >/dev/null)
  touch "$work/.complete"
fi
echo "$work/node_modules"
