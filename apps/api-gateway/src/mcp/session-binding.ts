import { deriveKey } from '@athenic/platform-crypto';
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Principal } from '../auth/principal';

const MAC_LENGTH = 22; // 128 bits, base64url

/**
 * An MCP session belongs to whoever opened it. The bridge's session id never reaches the client
 * as it is: the client gets `<bridge id>.<mac>`, the mac binding the id to the connection and to
 * the principal (the account for an account key, the token itself for a run token), keyed from
 * INTERNAL_SECRET. Every request's session id is checked against the caller; another account's,
 * or another run's, is a session that does not exist. Nothing is stored, so every gateway replica
 * checks the same way.
 */
export class SessionBinding {
  private readonly key: Buffer;

  constructor(internalSecret: string) {
    this.key = deriveKey(internalSecret, 'mcp-session');
  }

  /** The session id the client is given for the bridge's `upstreamId`. */
  wrap(upstreamId: string, connectionId: string, principal: Principal): string {
    return `${upstreamId}.${this.mac(upstreamId, connectionId, principal)}`;
  }

  /** The bridge's session id, if `clientId` was given to this principal on this connection. */
  unwrap(clientId: string, connectionId: string, principal: Principal): string | undefined {
    const dot = clientId.lastIndexOf('.');
    if (dot <= 0 || clientId.length - dot - 1 !== MAC_LENGTH) return undefined;
    const upstreamId = clientId.slice(0, dot);
    const expected = Buffer.from(this.mac(upstreamId, connectionId, principal));
    const given = Buffer.from(clientId.slice(dot + 1));
    return given.length === expected.length && timingSafeEqual(given, expected)
      ? upstreamId
      : undefined;
  }

  private mac(upstreamId: string, connectionId: string, principal: Principal): string {
    return createHmac('sha256', this.key)
      .update(`${connectionId}\n${ownerOf(principal)}\n${upstreamId}`)
      .digest('base64url')
      .slice(0, MAC_LENGTH);
  }
}

function ownerOf(principal: Principal): string {
  switch (principal.kind) {
    case 'service':
      return 'service';
    case 'account':
      return `account:${principal.accountId}`;
    case 'run':
      return `run:${principal.tokenId}`;
  }
}
