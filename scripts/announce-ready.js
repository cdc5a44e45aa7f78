#!/usr/bin/env node
// Waits until the gateway reports the whole platform healthy, then says where the API is.
'use strict';
const path = require('node:path');

const port = process.env.PORT || '3000';
const base = (process.env.PUBLIC_BASE_URL || `http://localhost:${port}`).replace(/\/+$/, '');
const secretsFile = path.resolve(process.env.DATA_DIR || '.data', 'secrets.json');
const deadline = Date.now() + 120000;

async function poll() {
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      const body = await res.json();
      if (res.status === 200) return null;
      last = Object.entries(body.checks || {})
        .filter(([, c]) => c.status !== 'ok')
        .map(([name, c]) => `${name}: ${c.error || 'down'}`)
        .join('; ');
    } catch (error) {
      last = error.message;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return last;
}

poll().then((problem) => {
  if (problem) {
    process.stderr.write(`The platform is not healthy after 120 s: ${problem}\n`);
    process.exit(1);
  }
  const keyHint = process.env.SERVICE_ROLE_KEY
    ? 'the SERVICE_ROLE_KEY you set'
    : `export SERVICE_ROLE_KEY=$(node -p "require('${secretsFile}').SERVICE_ROLE_KEY")`;
  process.stdout.write(
    [
      '',
      'Athenic MCP platform is up.',
      `  Console: ${base}/console  (paste the service role key, or an account key)`,
      `  API:     ${base}/functions/v1`,
      `  Docs:    ${base}/docs`,
      `  Health:  ${base}/health`,
      `  Key:     ${keyHint}`,
      `  Try:     curl -H "Authorization: Bearer $SERVICE_ROLE_KEY" ${base}/functions/v1/mcp-servers`,
      '',
    ].join('\n'),
  );
});
