#!/usr/bin/env bash
# The one test command: lint, typecheck, build (with publint/attw), then every vitest project.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f node_modules/.package-lock.json ] || npm ci --no-audit --no-fund
bash scripts/ensure-system-deps.sh chromium
npx biome ci .
npx turbo run typecheck build --output-logs=errors-only
npx vitest run
