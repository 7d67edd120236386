#!/usr/bin/env bash
# The one idempotent installer: npm packages, the Debian services (MariaDB, OpenSSH, HAProxy, nginx, PHP) and
# tools (percona-toolkit, mydumper for bench/import), k6 (built from its Go module at a pinned version), cfn-lint
# and moto. Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

K6_VERSION=v1.4.2
CFN_LINT_VERSION=1.51.0
MOTO_VERSION=5.2.1
APT_PACKAGES=(mariadb-server mariadb-client openssh-server openssh-client haproxy nginx php-cli php-fpm php-mysql apache2 libapache2-mod-php percona-toolkit mydumper)

say() { printf '[setup] %s\n' "$*"; }

# npm: install when node_modules is missing or older than the lockfile (npm ci writes node_modules/.package-lock.json).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# Debian packages.
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    say "missing Debian packages: ${missing[*]}; run as root: apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
    exit 1
  fi
  say "apt-get install ${missing[*]}"
  apt-get update -qq
  # Packages must not start their daemons here: tests and the rehearsal start private instances on free ports.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# k6: not on npm or in Debian; build the pinned release from its Go module.
GOBIN_DIR="$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"
if ! "$GOBIN_DIR/k6" version 2>/dev/null | grep -q "k6 $K6_VERSION"; then
  command -v go >/dev/null || { say "k6 needs Go >= 1.24 to build: install Go, then rerun"; exit 1; }
  say "go install go.k6.io/k6@$K6_VERSION (a few minutes on two cores)"
  go install "go.k6.io/k6@$K6_VERSION"
fi

# Python tools: cfn-lint for the templates, moto's server for S3/SSM/Secrets Manager in tests.
pip_has() { local v; v=$(python3 -m pip show "$1" 2>/dev/null) || return 1; [[ "$v" == *"Version: $2"* ]]; }
# moto's server mode needs its [server] extra (flask, flask-cors), which a plain `moto` install lacks.
if ! pip_has cfn-lint "$CFN_LINT_VERSION" || ! pip_has moto "$MOTO_VERSION" || ! python3 -c 'import flask, flask_cors' 2>/dev/null \
   || ! command -v moto_server >/dev/null || ! command -v cfn-lint >/dev/null; then
  say "pip install cfn-lint moto[server]"
  python3 -m pip install -q "cfn-lint==$CFN_LINT_VERSION" "moto[server]==$MOTO_VERSION"
  # pyenv's Python puts new console scripts on PATH only after a rehash.
  if command -v pyenv >/dev/null; then pyenv rehash; fi
fi
say "ready"
