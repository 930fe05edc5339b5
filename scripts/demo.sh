#!/bin/bash
# Fresh machine to a working demo: install what is missing (Debian packages need root), build,
# start a local Xspice demo desktop and connect to it with spicectl.
# Usage: scripts/demo.sh [OUT.png]
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v Xspice >/dev/null 2>&1 || ! command -v xterm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then scripts/install-deps.sh; else sudo scripts/install-deps.sh; fi
fi
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build --silent
exec node --import tsx scripts/demo.ts "${1:-demo.png}"
