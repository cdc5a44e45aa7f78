import { CredentialSetReveal, DomainError } from '@athenic/contracts';
import type { BusClient } from '@athenic/messaging';
import {
  REVEAL_PROOF_PURPOSE,
  type RecipientKeyPair,
  generateRecipientKeyPair,
  signFields,
  unseal,
} from '@athenic/platform-crypto';

/**
 * Asks the credential service for a connection's values, as a platform service: the request is
 * signed with a key derived from INTERNAL_SECRET, the answer sealed to a key pair this process
 * made and never shares. Who asks (`requester`) is audited.
 */
export class CredentialRevealer {
  private recipient: Promise<RecipientKeyPair> | undefined;

  constructor(
    private readonly bus: BusClient,
    private readonly internalSecret: string,
    private readonly requester: string,
  ) {}

  /** The connection's credential values, or {} when it has none. */
  async reveal(accountId: string, connectionId: string): Promise<Record<string, string>> {
    const recipient = await (this.recipient ??= generateRecipientKeyPair());
    const fields = {
      account_id: accountId,
      connection_id: connectionId,
      requester: this.requester,
      recipient_jwk: recipient.publicJwk as Record<string, unknown>,
      requested_at: new Date().toISOString(),
    };
    try {
      const reply = await this.bus.send(
        CredentialSetReveal,
        { ...fields, proof: signFields(this.internalSecret, REVEAL_PROOF_PURPOSE, fields) },
        { timeoutMs: 10000 },
      );
      return (
        JSON.parse(await unseal(reply.sealed, recipient.privateKey)) as {
          values: Record<string, string>;
        }
      ).values;
    } catch (error) {
      if (error instanceof DomainError && error.code === 'not_found') return {};
      throw error;
    }
  }
}
