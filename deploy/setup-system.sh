#!/usr/bin/env bash
# Install the Debian packages Tocsin's tests need beyond Python, Java and Maven: `prometheus`
# (the server and promtool, used by the rule unit tests and the scrape integration test) and
# `prometheus-alertmanager` (amtool, which checks deploy/alertmanager/alertmanager.yml, and the real
# Alertmanager the delivery tests route through) and `chromium` (the approval pages are driven in it
# headless by Playwright through `executable_path`; Playwright cannot download its own browser here)
# and `openssl` (the e-mail integration test makes a throw-away certificate for its STARTTLS server)
# and `postgresql` (the console's PostgreSQL tests and benchmark start a throw-away server from its
# binaries under /usr/lib/postgresql/<version>/bin, which are not on the PATH: looked for there).
#
# Idempotent and quiet: when every package is already installed it prints nothing and returns in
# milliseconds. Otherwise it needs root (or password-less sudo), runs `apt-get update` once and
# installs without recommends. Without root, sudo or apt-get it only warns: `make demo` does not
# need these packages, and the tests that do fail loudly naming the missing tool. Debian starts a service on install under systemd; a Prometheus listening on
# 0.0.0.0:9090 is not something a test setup should leave behind, so a temporary policy-rc.d forbids
# service starts during the install (only when the machine has no policy-rc.d of its own).
set -euo pipefail

packages=(prometheus prometheus prometheus-alertmanager chromium openssl)
commands=(promtool prometheus amtool chromium openssl)

missing=()
for i in "${!packages[@]}"; do
  command -v "${commands[$i]}" >/dev/null 2>&1 || missing+=("${packages[$i]}")
done
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || missing+=(postgresql)
# promtool and prometheus come from the same package: list it once.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | awk 'NF && !seen[$0]++')
[ "${#missing[@]}" -eq 0 ] && exit 0

warn() { echo "setup-system: WARNING: $* (needed by the Prometheus and PostgreSQL tests, not by the demo)" >&2; exit 0; }
command -v apt-get >/dev/null 2>&1 || warn "missing ${missing[*]} and no apt-get here; install them by hand"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  sudo -n true 2>/dev/null || warn "missing ${missing[*]}; run as root: apt-get install --no-install-recommends ${missing[*]}"
  sudo=(sudo -n)
fi

echo "setup-system: installing ${missing[*]} (Debian packages)"
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod 755 "$policy"
  own_policy=1
fi
cleanup() { if [ "$own_policy" -eq 1 ]; then "${sudo[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
command -v promtool >/dev/null && promtool --version 2>&1 | head -1
