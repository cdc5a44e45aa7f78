#!/usr/bin/env bash
# Installs what is missing, builds, and runs all five services in the foreground with one
# log stream (a prefix per service). A service that dies is started again on its own
# (scripts/keep-running.js: a log line, a back-off); Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
node scripts/check-dependencies.js

export NODE_ENV="${NODE_ENV:-development}"
services=(api-gateway registry-service credential-service sandbox-service agent-runner)
commands=()
for s in "${services[@]}"; do
  commands+=("node scripts/keep-running.js $s node --enable-source-maps dist/apps/$s/src/main.js")
done

exec node_modules/.bin/concurrently --prefix "[{name}]" \
  --names "gateway,registry,credential,sandbox,agent,ready" \
  --prefix-colors "cyan,green,yellow,magenta,blue,white" \
  "${commands[@]}" "node scripts/announce-ready.js"
