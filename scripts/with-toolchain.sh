#!/usr/bin/env bash
# Runs a project script on Node 24 after making sure the toolchain and npm
# dependencies are in place. Everything it installs stays inside the project
# (.tools/, node_modules/); nothing global changes.
#   usage: scripts/with-toolchain.sh <script.ts|script.mjs> [args...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/toolchain.sh
source "$root/scripts/toolchain.sh"
use_node24
ensure_npm_dependencies
cd "$root"
exec node "$@"
