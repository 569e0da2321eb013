#!/usr/bin/env bash
# Generate deploy/grafana/schema/dashboard.schema.json, the JSON Schema the dashboard tests validate
# against, from the TypeScript types of the npm package @grafana/schema (the types Grafana itself
# generates from its CUE kinds). Run it again only to move to a newer Grafana schema; the output is
# committed so that the tests need neither node nor the network.
#
# The npm packages are installed into the cache folder, keyed by version, never into the clone.
set -euo pipefail

GRAFANA_SCHEMA_VERSION="${GRAFANA_SCHEMA_VERSION:-13.2.3}"
TSJSG_VERSION="${TSJSG_VERSION:-2.9.0}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${TOCSIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tocsin}"
work="$cache/npm/grafana-schema-$GRAFANA_SCHEMA_VERSION-tsjsg-$TSJSG_VERSION"
out="$here/schema/dashboard.schema.json"

if [ ! -f "$work/.complete" ]; then
  rm -rf "$work"
  mkdir -p "$work"
  (cd "$work" && npm init -y >/dev/null 2>&1 &&
    npm install --silent --no-audit --no-fund \
      "@grafana/schema@$GRAFANA_SCHEMA_VERSION" "ts-json-schema-generator@$TSJSG_VERSION" >/dev/null)
  touch "$work/.complete"
fi

types="$work/node_modules/@grafana/schema/dist/types/raw/dashboard/x/types.gen.d.ts"
[ -f "$types" ] || { echo "make-schema: $types not found in @grafana/schema $GRAFANA_SCHEMA_VERSION" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
(cd "$work" && npx --no-install ts-json-schema-generator --path "$types" --type Dashboard \
  --no-type-check --expose export) > "$out.tmp"
mv "$out.tmp" "$out"
echo "make-schema: wrote $out (@grafana/schema $GRAFANA_SCHEMA_VERSION, $(wc -c < "$out") bytes)"
