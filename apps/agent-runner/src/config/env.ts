import { CommonEnv, validateEnv } from '@athenic/config';

export class AgentEnv extends CommonEnv {}

/** The only place this service reads process.env. */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): AgentEnv {
  return validateEnv(AgentEnv, source);
}
