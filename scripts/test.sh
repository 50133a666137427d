#!/usr/bin/env bash
# The test command of the README (`npm test`): type-check and compile, run the PyTorch reference cases
# (test/fixtures/torch-refs, or the folder TSGRAD_TORCH_REFS names) on every available device, then every node:test file (its summary closes the output).
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.json
refs=${TSGRAD_TORCH_REFS:-test/fixtures/torch-refs}
for dev in $(node -e "import('./dist/src/index.js').then(m => console.log(m.availableDevices().map(d => d.name).join(' ')))"); do
  node bin/tsgrad.js check-refs "$refs" --device "$dev" --quiet
done
shopt -s nullglob
files=(dist/test/*.test.js)
if [ ${#files[@]} -eq 0 ]; then echo "no test files found" >&2; exit 1; fi
node --test --test-reporter=spec "${files[@]}"
