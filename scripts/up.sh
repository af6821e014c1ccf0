#!/usr/bin/env bash
# The README's first command: installs Bun and the packages, provisions PostgreSQL, Redis, RabbitMQ
# and Kafka on 127.0.0.1 when they are not reachable, then runs every service (scripts/mesh.ts) in
# the foreground until Ctrl-C. `--no-mesh` stops after the infrastructure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/ensure-bun.sh
source scripts/deps.sh
bash scripts/infra/up.sh
source scripts/infra/env.sh
if [[ "${1:-}" == "--no-mesh" ]]; then
  exit 0
fi
exec bun run scripts/mesh.ts "$@"
