#!/usr/bin/env node
// Runs one service and starts it again when it dies (`npm start`'s supervisor; under compose or
// Kubernetes the orchestrator restarts instead). A crash is logged with its exit code or signal
// and retried after a back-off that doubles from 1 s up to 30 s, and starts again from 1 s once
// the service has stayed up for a minute. SIGINT/SIGTERM are passed to the service, which then
// stops for good. A service refused by its configuration (exit 78) is not restarted.
// `--env <file>`: a JSON object of variables that override the environment for the service (its
// own DATABASE_URL and AMQP_URL, written by scripts/provision.ts), kept off its command line.
// Usage: keep-running.js <name> [--env <file>] <command> [args...]
'use strict';
const { spawn } = require('node:child_process');

const argv = process.argv.slice(2);
const name = argv.shift();
let env = process.env;
if (argv[0] === '--env') {
  argv.shift();
  env = { ...process.env, ...JSON.parse(require('node:fs').readFileSync(argv.shift(), 'utf8')) };
}
const [command, ...args] = argv;
const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 30000;
const STABLE_MS = 60000;
const EXIT_CONFIG = 78;

let child;
let stopping = false;
let delay = FIRST_DELAY_MS;

function start() {
  const startedAt = Date.now();
  child = spawn(command, args, { stdio: 'inherit', env });
  child.on('error', (error) => process.stderr.write(`${name} could not start: ${error.message}\n`));
  child.on('exit', (code, signal) => {
    if (stopping) return process.exit(code ?? 1);
    // 0: it chose to stop; 78 (EX_CONFIG): its configuration is wrong, a restart cannot help.
    if (code === 0 || code === EXIT_CONFIG) return process.exit(code);
    if (Date.now() - startedAt >= STABLE_MS) delay = FIRST_DELAY_MS;
    process.stderr.write(
      `${name} died (${signal ? `signal ${signal}` : `exit code ${code}`}); restarting in ${delay / 1000} s\n`,
    );
    setTimeout(start, delay);
    delay = Math.min(delay * 2, MAX_DELAY_MS);
  });
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stopping = true;
    if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
    else process.exit(0);
  });
}

start();
