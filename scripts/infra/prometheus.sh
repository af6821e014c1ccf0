#!/usr/bin/env bash
# Makes the `prometheus` binary available (Debian's `prometheus` package) for the deploy tests and for
# looking at the mesh locally. Idempotent: does nothing when `prometheus` is already on PATH.
#
# It never starts the system service: the package's maintainer scripts would start
# /etc/init.d/prometheus (port 9090, /var/lib/prometheus); a temporary policy-rc.d forbids that for
# the duration of the install. Tests run their own prometheus on a free 127.0.0.1 port with a
# temporary config and data directory (test/deploy/prometheus.test.ts); by hand:
#
#   prometheus --config.file=deploy/prometheus/prometheus.yml --storage.tsdb.path=/tmp/prom \
#     --web.listen-address=127.0.0.1:9090
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

if command -v prometheus >/dev/null; then
  exit 0
fi
((EUID == 0)) || die "prometheus is missing and not root; install the Debian package 'prometheus' or run as root"
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

APT=(apt-get -y -q -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confold)
step "apt-get install prometheus"
if ! "${APT[@]}" install --no-install-recommends prometheus >"$STATE_DIR/apt-prometheus.log" 2>&1; then
  log "   install failed with the cached lists; running apt-get update once and retrying"
  "${APT[@]}" update >/dev/null
  "${APT[@]}" install --no-install-recommends prometheus >"$STATE_DIR/apt-prometheus.log" 2>&1 ||
    { tail -20 "$STATE_DIR/apt-prometheus.log" >&2; die "apt-get install prometheus failed"; }
fi
step_done
command -v prometheus >/dev/null || die "prometheus installed but not on PATH"
log "prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}') installed (system service not started)"
