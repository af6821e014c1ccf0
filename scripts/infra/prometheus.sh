#!/usr/bin/env bash
# Makes the `prometheus` binary available (Debian's `prometheus` package) for the deploy tests and for
# looking at the mesh locally, without starting the package's system service (see debian-tool.sh).
# Tests run their own prometheus on a free 127.0.0.1 port with a temporary config and data directory
# (test/deploy/prometheus.test.ts); by hand:
#
#   prometheus --config.file=deploy/prometheus/prometheus.yml --storage.tsdb.path=/tmp/prom \
#     --web.listen-address=127.0.0.1:9090
exec bash "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/debian-tool.sh" prometheus prometheus
