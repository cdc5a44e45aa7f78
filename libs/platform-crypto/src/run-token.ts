import { SignJWT, jwtVerify } from 'jose';
import { deriveKey } from './internal-auth';

/** What a run token grants: MCP access to these connections of this account, until it expires. */
export interface RunTokenClaims {
  accountId: string;
  connectionIds: string[];
  expiresAt: Date;
}

const ISSUER = 'athenic-platform';
const AUDIENCE = 'mcp-connections';
/** Run tokens start with this, so the gateway tells them from API keys without parsing. */
export const RUN_TOKEN_PREFIX = 'rt_';

/**
 * A short-lived token for AgentKit users: a JWT (HS256) signed with a key derived from
 * INTERNAL_SECRET, valid only on the MCP endpoints of the connections it names.
 */
export async function signRunToken(
  internalSecret: string,
  claims: Omit<RunTokenClaims, 'expiresAt'>,
  ttlSeconds: number,
): Promise<{ token: string; expiresAt: Date }> {
  const now = Math.floor(Date.now() / 1000);
  const exp = now + ttlSeconds;
  const jwt = await new SignJWT({ cids: claims.connectionIds })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.accountId)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(exp)
    .sign(deriveKey(internalSecret, 'run-token'));
  return { token: `${RUN_TOKEN_PREFIX}${jwt}`, expiresAt: new Date(exp * 1000) };
}

/** The claims of a valid, unexpired run token; undefined for anything else. */
export async function verifyRunToken(
  internalSecret: string,
  token: string,
): Promise<RunTokenClaims | undefined> {
  if (!token.startsWith(RUN_TOKEN_PREFIX)) return undefined;
  try {
    const { payload } = await jwtVerify(
      token.slice(RUN_TOKEN_PREFIX.length),
      deriveKey(internalSecret, 'run-token'),
      {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['HS256'],
      },
    );
    const cids = payload.cids;
    if (
      typeof payload.sub !== 'string' ||
      !Array.isArray(cids) ||
      !cids.every((c) => typeof c === 'string') ||
      !payload.exp
    )
      return undefined;
    return {
      accountId: payload.sub,
      connectionIds: cids as string[],
      expiresAt: new Date(payload.exp * 1000),
    };
  } catch {
    return undefined;
  }
}
