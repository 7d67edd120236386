#!/usr/bin/env bash
# Packs examples/lamp-site the way pull-web does (contents at the root, owners 0) into the bundlePath of
# examples/lamp-site.config.json. The dump, the dump maker and the load plan stay out: they are not the site.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.rushhour/examples/lamp-site.tar.gz
mkdir -p "$(dirname "$out")"
tar -czf "$out" --owner=0 --group=0 --numeric-owner \
  --exclude=./course-selection-lamp.sql.gz --exclude=./make-dump.ts --exclude=./loadtest-plan.json \
  -C examples/lamp-site .
echo "$out"
