import {
  CredentialSetDelete,
  CredentialSetReveal,
  CredentialSetStore,
  DomainError,
  type StoredCredentialsReply,
} from '@athenic/contracts';
import { BusClient } from '@athenic/messaging';
import {
  REVEAL_PROOF_PURPOSE,
  type RecipientKeyPair,
  generateRecipientKeyPair,
  signFields,
  unseal,
} from '@athenic/platform-crypto';
import { Inject, Injectable } from '@nestjs/common';
import { SANDBOX_CONFIG, type SandboxConfig } from '../config/env';

/**
 * The sandbox service's side of the credential service: values it stores stay sealed for the
 * credential service; values it reveals for a deployment come sealed to a key pair this process
 * made at start and never shares.
 */
@Injectable()
export class CredentialsClient {
  private recipient: Promise<RecipientKeyPair> | undefined;

  constructor(
    private readonly bus: BusClient,
    @Inject(SANDBOX_CONFIG) private readonly config: SandboxConfig,
  ) {}

  store(
    accountId: string,
    connectionId: string,
    mcpServerId: string,
    sealed: Record<string, string>,
    actor: string,
  ): Promise<StoredCredentialsReply> {
    return this.bus.send(
      CredentialSetStore,
      {
        account_id: accountId,
        connection_id: connectionId,
        mcp_server_id: mcpServerId,
        sealed_values: sealed,
        actor,
      },
      { timeoutMs: 10000 },
    );
  }

  /** The connection's credential values, or {} when it has none. */
  async reveal(accountId: string, connectionId: string): Promise<Record<string, string>> {
    const recipient = await (this.recipient ??= generateRecipientKeyPair());
    const fields = {
      account_id: accountId,
      connection_id: connectionId,
      requester: 'sandbox-service',
      recipient_jwk: recipient.publicJwk as Record<string, unknown>,
      requested_at: new Date().toISOString(),
    };
    try {
      const reply = await this.bus.send(
        CredentialSetReveal,
        { ...fields, proof: signFields(this.config.internalSecret, REVEAL_PROOF_PURPOSE, fields) },
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

  async delete(accountId: string, connectionId: string, actor: string): Promise<void> {
    await this.bus.send(
      CredentialSetDelete,
      { account_id: accountId, connection_id: connectionId, actor },
      { timeoutMs: 10000 },
    );
  }
}
