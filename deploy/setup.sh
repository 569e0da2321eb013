#!/usr/bin/env bash
# Set up Tocsin's Python environment from nothing, or in seconds from a warm cache.
#
# The virtualenv lives in the cache folder, keyed by a hash of the dependency files and the Python
# version, so a fresh clone with a warm cache reuses it; the downloaded wheels are kept there too,
# so a new key (changed dependencies) re-installs from local wheels instead of the network. The project itself
# is installed editable (no deps) into that venv on every run, which takes a second.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${TOCSIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tocsin}"
python="${PYTHON:-python3}"

pyver="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
# Keyed by what decides the installed set (dependencies, extras, Python range, constraints), not
# by the whole pyproject.toml: editing a tool's settings there must not rebuild the venv.
deps="$("$python" -c 'import json, sys, tomllib; p = tomllib.load(open(sys.argv[1], "rb"))["project"]; print(json.dumps([p.get("requires-python"), p.get("dependencies"), p.get("optional-dependencies")], sort_keys=True))' "$here/pyproject.toml")"
key="$(printf '%s\n' "$deps" | cat - "$here/constraints.txt" | sha256sum | cut -c1-12)"
venv="$cache/venv/py$pyver-$key"

if [ ! -f "$venv/.complete" ]; then
  echo "setup: creating $venv (cold: downloads torch and friends, several minutes)"
  # No .complete marker means a missing or half-built venv: start it again from scratch.
  rm -rf "$venv"
  "$python" -m venv "$venv"
  # The package index here answers with no-store, so pip's own HTTP cache stays empty: keep the
  # wheels ourselves. `pip download` skips files already in the folder, and the install is offline.
  wheels="$cache/wheels/py$pyver"
  mkdir -p "$wheels"
  "$python" -m pip download --quiet --dest "$wheels" -c "$here/constraints.txt" \
    "pip>=24" "setuptools>=77" wheel "$here[build,dev,plot]"
  rm -f "$wheels"/tocsin-*.whl
  "$venv/bin/python" -m pip install --quiet --no-index --find-links "$wheels" --upgrade "pip>=24" "setuptools>=77" wheel
  # Dependencies (and the project, editable: never a copy in site-packages, which would shadow
  # the clone's code for the `tocsin` entry point). pip runs from / because `python -m pip` puts
  # the working directory on sys.path, where a clone's tocsin.egg-info would be taken for the
  # installed distribution.
  (cd / && "$venv/bin/python" -m pip install --quiet --no-index --find-links "$wheels" \
    -c "$here/constraints.txt" -e "$here[build,dev,plot]")
  touch "$venv/.complete"
else
  echo "setup: reusing $venv"
fi

# A venv can hold a stale copy of the project's packages in site-packages (installed, then
# "uninstalled" from a directory holding tocsin.egg-info), which the `tocsin` entry point would
# import instead of the clone. Remove such copies: a top-level
# pipeline/, agents/ or models/ folder that no other installed distribution lists in its RECORD.
"$venv/bin/python" - <<'PY'
import importlib.metadata as md
import shutil
import sysconfig
from pathlib import Path

site = Path(sysconfig.get_paths()["purelib"])
owned = {
    str(f).split("/")[0]
    for d in md.distributions()
    if (d.metadata["Name"] or "").lower() != "tocsin"
    for f in (d.files or ())
}
for name in ("pipeline", "agents", "models"):
    stray = site / name
    if stray.is_dir() and not stray.is_symlink() and name not in owned:
        shutil.rmtree(stray)
        print(f"setup: removed a stale copy of the project's {name}/ from {site}")
PY
(cd / && "$venv/bin/python" -m pip install --quiet --no-index --no-deps --no-build-isolation -e "$here")
ln -sfn "$venv" "$here/.venv"
# The console's browser assets (uPlot, axe-core) from npm, pinned by their lock file, into the cache.
echo "setup: console assets in $(bash "$here/deploy/console/fetch-assets.sh")"
echo "setup: ready (.venv -> $venv)"
