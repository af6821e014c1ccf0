#!/usr/bin/env bash
# Makes Bun 1.4.x available without a global install: the binary ships inside the npm package
# @oven/bun-linux-x64, cached under ~/.cache/commerce-mesh/bun. Source this file; it puts bun on PATH.
BUN_VERSION="${BUN_VERSION:-1.4.5}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/commerce-mesh/bun"
BUN_DIR="$CACHE/node_modules/@oven/bun-linux-x64/bin"

if command -v bun >/dev/null 2>&1 && [[ "$(bun --version 2>/dev/null)" == 1.4.* ]]; then
  :
elif [[ -x "$BUN_DIR/bun" && "$("$BUN_DIR/bun" --version 2>/dev/null)" == "$BUN_VERSION" ]]; then
  export PATH="$BUN_DIR:$PATH"
else
  echo "==> installing bun $BUN_VERSION from npm into $CACHE"
  start=$SECONDS
  mkdir -p "$CACHE"
  # npm 11 may skip install scripts; the binary is a plain file in the package, so none are needed.
  (cd "$CACHE" && npm install --no-save --ignore-scripts --no-audit --no-fund --loglevel=error \
    "@oven/bun-linux-x64@$BUN_VERSION" >/dev/null) || { echo "bun install from npm failed" >&2; return 1 2>/dev/null || exit 1; }
  export PATH="$BUN_DIR:$PATH"
  echo "    bun $(bun --version) ready in $((SECONDS - start))s"
fi
