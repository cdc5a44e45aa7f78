import {
  CredentialSetDelete,
  CredentialSetStore,
  type StoredCredentialsReply,
} from '@athenic/contracts';
import { CredentialRevealer } from '@athenic/credential-client';
import { BusClient } from '@athenic/messaging';
import { Inject, Injectable } from '@nestjs/common';
import { SANDBOX_CONFIG, type SandboxConfig } from '../config/env';

/**
 * The sandbox service's side of the credential service: values it stores stay sealed for the
 * credential service; values it reveals for a deployment come sealed to a key pair this process
 * made at start and never shares.
 */
@Injectable()
export class CredentialsClient {
  private readonly revealer: CredentialRevealer;

  constructor(
    private readonly bus: BusClient,
    @Inject(SANDBOX_CONFIG) config: SandboxConfig,
  ) {
    this.revealer = new CredentialRevealer(bus, config.internalSecret, 'sandbox-service');
  }

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

  /** The connection's credential values, for one deployment; or {} when it has none. */
  reveal(accountId: string, connectionId: string): Promise<Record<string, string>> {
    return this.revealer.reveal(accountId, connectionId);
  }

  async delete(accountId: string, connectionId: string, actor: string): Promise<void> {
    await this.bus.send(
      CredentialSetDelete,
      { account_id: accountId, connection_id: connectionId, actor },
      { timeoutMs: 10000 },
    );
  }
}
