import { CredentialPublicKeyGet, DomainError } from '@athenic/contracts';
import { BusClient } from '@athenic/messaging';
import { CONNECTION_CREDENTIALS_PURPOSE, seal, sealedKid } from '@athenic/platform-crypto';
import { Injectable } from '@nestjs/common';

const KEY_CACHE_MS = 5 * 60 * 1000;

/**
 * Seals every credential value for the credential service before it leaves the gateway, bound to
 * the account, the connection (at install, the one the install will make:
 * `installConnectionId(account, idempotency key)`) and the purpose: the credential service
 * refuses it anywhere else, so a value lifted from a message or a dead letter cannot be replayed
 * into another install, of another account or the same one. A value the client already sealed
 * with the published key passes as it is (the credential service checks its binding the same
 * way); any other string is plaintext and is sealed here.
 */
@Injectable()
export class CredentialSealer {
  private key: { kid: string; jwk: Record<string, unknown>; at: number } | undefined;

  constructor(private readonly bus: BusClient) {}

  async sealAll(
    values: unknown,
    owner: { account: string; connection: string },
    field = 'provided_credential_schema',
  ): Promise<Record<string, string>> {
    if (values === undefined || values === null) return {};
    if (typeof values !== 'object' || Array.isArray(values)) {
      throw new DomainError(
        'validation_failed',
        `${field} must be an object of credential names to string values.`,
      );
    }
    const entries = Object.entries(values as Record<string, unknown>);
    const problems = entries
      .filter(([, v]) => typeof v !== 'string')
      .map(([k]) => `${field}.${k} must be a string`);
    if (problems.length > 0)
      throw new DomainError('validation_failed', `Invalid request: ${problems[0]}.`, problems);
    if (entries.length === 0) return {};
    const key = await this.publicKey();
    const sealed: Record<string, string> = {};
    for (const [name, value] of entries as [string, string][]) {
      sealed[name] =
        sealedKid(value) === key.kid
          ? value
          : await seal(value, key.jwk, { ...owner, purpose: CONNECTION_CREDENTIALS_PURPOSE });
    }
    return sealed;
  }

  private async publicKey(): Promise<{ kid: string; jwk: Record<string, unknown> }> {
    if (this.key && Date.now() - this.key.at < KEY_CACHE_MS) return this.key;
    const reply = await this.bus.send(CredentialPublicKeyGet, {});
    this.key = { ...reply, at: Date.now() };
    return this.key;
  }
}
