#!/usr/bin/env bash
# Installs schemathesis (pinned) into a Python venv under ~/.cache/commerce-mesh/schemathesis and prints
# the path of its `st` (last line of stdout). Idempotent: a venv that already has the pinned version on
# the chosen Python is left alone.
#
# The newest Python 3.12+ found is preferred: CPython 3.11 (Debian 12's python3 is 3.11.2) can fail
# ast.parse with "SystemError: AST constructor recursion depth mismatch" when several threads parse at
# once (python/cpython#106905), which hypothesis does inside schemathesis' workers; run.ts then uses a
# single worker. Set PYTHON to choose the interpreter.
set -euo pipefail

version="4.32.5"
venv="${SCHEMATHESIS_VENV:-$HOME/.cache/commerce-mesh/schemathesis}"
st="$venv/bin/st"

# Debian ships python3 without venv/ensurepip (package python3-venv): add it on a fresh machine.
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing python3-venv (Debian)" >&2
  (apt-get install -y -qq python3-venv >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq python3-venv; }) >&2
fi

python="${PYTHON:-}"
if [ -z "$python" ]; then
  pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
  candidates=(python3.14 python3.13 python3.12)
  # pyenv's shims only answer for the selected version; its other versions are used by path.
  for found in $(ls -d "$pyenv_root"/versions/3.1[2-9]* 2>/dev/null | sort -rV); do candidates+=("$found/bin/python3"); done
  candidates+=(python3)
  for candidate in "${candidates[@]}"; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import venv, ensurepip' >/dev/null 2>&1; then
      python="$candidate"
      break
    fi
  done
fi
if [ -z "$python" ] || ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)'; then
  echo "schemathesis $version needs Python 3.9 or newer (with venv); set PYTHON" >&2
  exit 1
fi
wanted="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"

if [ -x "$st" ]; then
  have="$("$venv/bin/python" -c 'import sys, importlib.metadata as m; print("%d.%d" % sys.version_info[:2], m.version("schemathesis"))' 2>/dev/null || true)"
  if [ "$have" = "$wanted $version" ]; then
    echo "$st"
    exit 0
  fi
  echo "replacing $venv (has: ${have:-nothing usable}; wants Python $wanted, schemathesis $version)" >&2
  rm -rf "$venv"
fi

mkdir -p "$(dirname "$venv")"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$version" >&2
echo "installed $("$st" --version) on Python $wanted" >&2
echo "$st"
