/**
 * What the bridge process (`serve.js`, run inside sandboxes away from the platform's host)
 * reports on stdout, one line each, a keyword then JSON.
 */
export const BRIDGE_LINE = {
  /** `{ port, ready }`: the server answered initialize; the bridge listens on `port`. */
  ready: 'ATHENIC_BRIDGE_READY',
  /** `{ message }`: the server never became ready. */
  failed: 'ATHENIC_BRIDGE_FAILED',
  /** `{ code, signal }`: the server ended; the bridge ends with it. */
  exit: 'ATHENIC_BRIDGE_EXIT',
} as const;

/**
 * Stands for the sandbox's platform folder (the parent of the bridge's working dir) in the
 * server's arguments and environment; the bridge puts the real absolute path in its place, so a
 * server gets absolute paths wherever the sandbox's files are.
 */
export const SANDBOX_ROOT_TOKEN = '@ATHENIC_ROOT@';

/** The folder of the compiled bridge process and its modules (uploaded as a whole). */
export const BRIDGE_DIR = __dirname;
