#!/usr/bin/env bash
# The test command (README: `npm run check`). Sets up what a fresh machine
# lacks, then runs every check CI runs: type-check, lint, tests, CDK synth.
set -euo pipefail
cd "$(dirname "$0")/.."

# The tests run a real registry and check what we push with an independent
# client: Debian's reference registry and skopeo.
missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
if [ ${#missing[@]} -gt 0 ]; then
  echo "check: installing ${missing[*]} from Debian's packages"
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "check: npm ci"
npm ci --no-audit --no-fund

echo "check: type-check (tsc --strict)"
npm run -s typecheck

echo "check: lint"
npm run -s lint

echo "check: tests"
npm test

echo "check: cdk synth"
npm run -s synth
echo "check: all passed"
