import { CommonEnv, validateEnv } from '@athenic/config';

export class SandboxEnv extends CommonEnv {}

/** The only place this service reads process.env. */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): SandboxEnv {
  return validateEnv(SandboxEnv, source);
}
