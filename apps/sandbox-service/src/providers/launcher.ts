/**
 * The first script a sandboxed server runs. Its real arguments arrive in the environment, so
 * credentials passed as arguments (a database URL) never appear in any process's command line;
 * it then runs the server's entry script as Node's main module, exactly as if it had been started
 * directly (CommonJS `require.main` checks and ES module entries both work).
 */
export const LAUNCHER_SOURCE = `'use strict';
const entry = process.env.ATHENIC_ENTRY;
const args = JSON.parse(process.env.ATHENIC_ARGV || '[]');
delete process.env.ATHENIC_ENTRY;
delete process.env.ATHENIC_ARGV;
process.argv = [process.argv[0], entry, ...args];
require('node:module').runMain();
`;
