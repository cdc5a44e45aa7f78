#!/usr/bin/env bash
# The whole test suite: setup and build, static checks, then every tier of tests against the
# real RabbitMQ and Postgres (testcontainers when a container runtime answers, the local
# services otherwise). The serial tier (restarts and kills) runs last, one test at a time.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
echo "test: type check"
node_modules/.bin/tsc -p tsconfig.json --noEmit
node_modules/.bin/tsc -p apps/console/tsconfig.json --noEmit
echo "test: lint and format"
node_modules/.bin/eslint --max-warnings 0 .
node_modules/.bin/prettier --check --log-level warn .
echo "test: unit, integration and end-to-end tiers"
node_modules/.bin/jest --selectProjects unit integration e2e --maxWorkers=2 "$@"
echo "test: serial tier"
node_modules/.bin/jest --selectProjects serial --runInBand --passWithNoTests "$@"
