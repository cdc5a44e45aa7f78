import { createHash } from 'node:crypto';
import picomatch from 'picomatch';

const MODEL_TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * `<server name>-<tool>`, as model APIs accept it (64 characters of [A-Za-z0-9_-]); a longer or
 * unusual name is cut and suffixed with a hash of the full name, so it stays unique and stable.
 */
export function modelToolName(serverName: string, tool: string): string {
  const full = `${serverName}-${tool}`;
  if (MODEL_TOOL_NAME.test(full)) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 8);
  return `${full.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 55)}-${hash}`;
}

/** The most patterns an allow-list may hold, and the longest pattern. */
export const MAX_ALLOW_PATTERNS = 100;
export const MAX_ALLOW_PATTERN_LENGTH = 200;

/**
 * An allow-list of tool names or globs (`read_*`, `memory-server-*-read_graph`): a tool passes
 * when a pattern matches its MCP name (as the server lists it) or its model name
 * (`<server name>-<tool>`). No list lets every tool pass; an empty list lets none.
 */
export function toolAllowList(
  patterns: string[] | undefined,
): (tool: string, modelName: string) => boolean {
  if (patterns === undefined) return () => true;
  if (!Array.isArray(patterns) || patterns.length > MAX_ALLOW_PATTERNS)
    throw new TypeError(
      `The allow-list must be an array of at most ${MAX_ALLOW_PATTERNS} patterns.`,
    );
  for (const pattern of patterns)
    if (
      typeof pattern !== 'string' ||
      pattern.length === 0 ||
      pattern.length > MAX_ALLOW_PATTERN_LENGTH
    )
      throw new TypeError(
        `Each allow-list pattern must be a string of 1 to ${MAX_ALLOW_PATTERN_LENGTH} characters.`,
      );
  // Globs as picomatch reads them: `*` any run of characters but `/`, `?` one, `{a,b}` either.
  const matchers = patterns.map((p) => picomatch(p, { dot: true }));
  return (tool, modelName) => matchers.some((m) => m(tool) || m(modelName));
}
