#!/usr/bin/env bash
# Installs the project's packages from the committed lockfile. Source after ensure-bun.sh.
cd "$(dirname "${BASH_SOURCE[0]}")/.." || return 1
if [[ ! -d node_modules/effect || bun.lock -nt node_modules/.bun-installed ]]; then
  echo "==> bun install (frozen lockfile)"
  start=$SECONDS
  bun install --frozen-lockfile >/dev/null || { echo "bun install failed" >&2; return 1 2>/dev/null || exit 1; }
  touch node_modules/.bun-installed
  echo "    dependencies ready in $((SECONDS - start))s"
fi
cd - >/dev/null || true
