import { createRemoteJWKSet, customFetch, decodeJwt, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { fetch as undiciFetch, type Dispatcher } from 'undici';
import { z } from 'zod';
import { UnauthorizedError } from '../errors/index.js';

/**
 * Entra ID's published signing keys, fetched through our dispatcher (which trusts the local
 * simulator's CA in local mode), cached for a day, refetched at most every 30 s when a token
 * names an unknown key (Entra rolls its keys).
 */
export function entraSigningKeys(url: string, dispatcher?: Dispatcher): JWTVerifyGetKey {
  return createRemoteJWKSet(new URL(url), {
    cacheMaxAge: 24 * 3600_000,
    cooldownDuration: 30_000,
    [customFetch]: (input, init) =>
      undiciFetch(input, { ...(init as object), dispatcher }) as unknown as Promise<Response>,
  });
}

/** Who a valid tab SSO token speaks for. */
export interface SsoUser {
  /** Entra object id (`oid`). */
  id: string;
  tenantId: string;
  name?: string;
  /** UPN / preferred_username, for display only (never for authorization). */
  username?: string;
}

export interface SsoVerifierOptions {
  /** Our Entra app (client) id: the v2 audience, and the last segment of the v1 one. */
  clientId: string;
  /** The application ID URI (`api://{domain}/{clientId}`): the v1 audience. */
  applicationIdUri: string;
  /** Only tokens of this tenant are accepted (single-tenant app). */
  tenantId: string;
  /** Entra's authority host: v2 issuer `{host}/{tenant}/v2.0`, keys under it. */
  authorityHost: string;
  /** The delegated scope the tab asks for. */
  scope?: string;
  dispatcher?: Dispatcher;
  now: () => Date;
}

const claimsSchema = z.object({
  oid: z.string().min(1).max(64),
  tid: z.string().min(1).max(64),
  scp: z.string().max(2048).optional(),
  name: z.string().max(256).optional(),
  preferred_username: z.string().max(256).optional(),
  upn: z.string().max(256).optional(),
});

/**
 * Checks the SSO token the tab sends (`authentication.getAuthToken`): Entra's signature (JWKS),
 * lifetime, tenant, issuer (v1 sts.windows.net or v2), audience (v1 application ID URI or v2
 * client id) and the `access_as_user` scope. Every refusal is an UnauthorizedError whose message
 * says what was wrong, never the token.
 */
export class SsoVerifier {
  private readonly keys: JWTVerifyGetKey;
  private readonly scope: string;

  constructor(private readonly options: SsoVerifierOptions) {
    this.keys = entraSigningKeys(
      `${options.authorityHost}/${options.tenantId}/discovery/v2.0/keys`,
      options.dispatcher,
    );
    this.scope = options.scope ?? 'access_as_user';
  }

  /** The bearer token from an Authorization header; 401 when it is absent or malformed. */
  static bearer(header: string | undefined): string {
    const m = /^Bearer ([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]*)$/.exec(header ?? '');
    if (!m || m[1]!.length > 16_384)
      throw new UnauthorizedError('Sign in first: this call needs the Teams SSO token.');
    return m[1]!;
  }

  async verify(token: string): Promise<SsoUser> {
    const { tenantId, clientId, applicationIdUri, authorityHost } = this.options;
    let tid: unknown;
    try {
      tid = decodeJwt(token).tid;
    } catch {
      throw new UnauthorizedError('The sign-in token is not a valid token.');
    }
    if (typeof tid !== 'string' || tid.toLowerCase() !== tenantId.toLowerCase())
      throw new UnauthorizedError('The sign-in token is for another organization.');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        algorithms: ['RS256'],
        audience: [clientId, applicationIdUri],
        issuer: [`${authorityHost}/${tenantId}/v2.0`, `https://sts.windows.net/${tenantId}/`],
        currentDate: this.options.now(),
        clockTolerance: 300,
        requiredClaims: ['exp', 'iat'],
      }));
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ERR_JWT_EXPIRED')
        throw new UnauthorizedError('The sign-in token has expired. Reload the tab.');
      if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED')
        throw new UnauthorizedError(
          `The sign-in token was not issued for this app (${(err as { claim?: string }).claim ?? 'claim'} does not match).`,
        );
      throw new UnauthorizedError('The sign-in token failed signature validation.');
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success)
      throw new UnauthorizedError('The sign-in token does not name a user (no oid).');
    const scopes = (claims.data.scp ?? '').split(' ');
    if (!scopes.includes(this.scope))
      throw new UnauthorizedError(`The sign-in token lacks the ${this.scope} scope.`);
    return {
      id: claims.data.oid,
      tenantId: claims.data.tid,
      name: claims.data.name,
      username: claims.data.preferred_username ?? claims.data.upn,
    };
  }
}
