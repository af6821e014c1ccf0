#!/usr/bin/env bash
# Makes a command from a Debian package available: `debian-tool.sh <command> <package>`. Idempotent: does
# nothing when the command is already on PATH. Used for the tools the tests drive themselves
# (scripts/infra/prometheus.sh, scripts/infra/chromium.sh, wrk for bench/gateway).
#
# It never starts a system service the package ships: a temporary policy-rc.d forbids that for the
# duration of the install (prometheus' maintainer scripts would start /etc/init.d/prometheus on 9090).
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

command=${1:?usage: debian-tool.sh <command> <package>}
package=${2:?usage: debian-tool.sh <command> <package>}

if command -v "$command" >/dev/null; then
  exit 0
fi
((EUID == 0)) || die "$command is missing and not root; install the Debian package '$package' or run as root"
mkdir -p "$STATE_DIR"

# invoke-rc.d asks /usr/sbin/policy-rc.d before starting a service; exit 101 means "not allowed".
# Only put one there if none exists, and remove only the one we put there.
POLICY=/usr/sbin/policy-rc.d
OWN_POLICY=0
if [[ ! -e $POLICY ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$POLICY"
  chmod 755 "$POLICY"
  OWN_POLICY=1
fi
cleanup() { ((OWN_POLICY)) && rm -f "$POLICY"; return 0; }
trap cleanup EXIT

step "apt-get install $package"
apt_install "$STATE_DIR/apt-$package.log" "$package"
step_done
command -v "$command" >/dev/null || die "$package installed but $command is not on PATH"
log "$package installed (no system service started)"
