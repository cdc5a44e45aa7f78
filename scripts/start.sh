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
# Each service connects as its own Postgres role and RabbitMQ user (docs/security/least-privilege.md);
# ATHENIC_QUICK=1 skips that and runs every service as the administrator of DATABASE_URL/AMQP_URL.
env_dir="${DATA_DIR:-.data}/service-env"
if [ "${ATHENIC_QUICK:-}" = "1" ]; then
  echo "quick mode: every service connects as the administrator (ATHENIC_QUICK=1)"
  rm -rf "$env_dir"
else
  node dist/scripts/provision.js
fi
commands=()
for s in "${services[@]}"; do
  env_file="$env_dir/$s.json"
  [ -f "$env_file" ] || env_file=""
  commands+=("node scripts/keep-running.js $s ${env_file:+--env $env_file} node --enable-source-maps dist/apps/$s/src/main.js")
done

exec node_modules/.bin/concurrently --prefix "[{name}]" \
  --names "gateway,registry,credential,sandbox,agent,ready" \
  --prefix-colors "cyan,green,yellow,magenta,blue,white" \
  "${commands[@]}" "node scripts/announce-ready.js"
