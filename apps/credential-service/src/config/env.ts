import { CommonEnv, validateEnv } from '@athenic/config';

export class CredentialEnv extends CommonEnv {}

/** The only place this service reads process.env. */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): CredentialEnv {
  return validateEnv(CredentialEnv, source);
}
