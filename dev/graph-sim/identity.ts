import { randomUUID } from 'node:crypto';
import {
  SignJWT,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  createLocalJWKSet,
  type JWK,
  type JWTPayload,
  type CryptoKey,
} from 'jose';

/** Graph's resource id and the app id Graph signs change-notification tokens as (documented). */
export const GRAPH_RESOURCE = 'https://graph.microsoft.com';
export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
export const NOTIFICATION_PUBLISHER_APP_ID = '0bf30f3b-4a52-48df-9a82-234910c4a086';
/** The Teams desktop/mobile client, which obtains tab SSO tokens (documented, pre-authorized). */
export const TEAMS_CLIENT_APP_ID = '1fec8e78-bce4-4aaf-ab1b-5451cc387264';

/** What a tab SSO token is issued for. */
export interface UserTokenRequest {
  tenantId: string;
  user: { id: string; displayName: string; userPrincipalName: string };
  /** v2 tokens carry `aud` = the client id; v1 tokens the application ID URI. */
  version: '1.0' | '2.0';
  audience: string;
  scope: string;
  /** The v2 issuer (`{authority}/{tenant}/v2.0`); v1 tokens are issued by sts.windows.net. */
  v2Issuer: string;
  nowMs: number;
  lifetimeSeconds: number;
}

export interface AppTokenClaims extends JWTPayload {
  tid: string;
  appid: string;
  roles: string[];
  idtyp: 'app';
}

/**
 * The simulator's signing identity: one RSA key (published in JWKS) that signs app tokens,
 * change-notification validation tokens and, later, user tokens.
 */
export class Identity {
  private constructor(
    private readonly privateKey: CryptoKey,
    readonly jwk: JWK,
  ) {}

  static async create(): Promise<Identity> {
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = {
      ...(await exportJWK(publicKey)),
      kid: randomUUID().replace(/-/g, ''),
      use: 'sig',
      alg: 'RS256',
    };
    return new Identity(privateKey, jwk);
  }

  jwks(): { keys: JWK[] } {
    return { keys: [this.jwk] };
  }

  private sign(claims: JWTPayload, lifetimeSeconds: number, nowMs: number): Promise<string> {
    const iat = Math.floor(nowMs / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: this.jwk.kid! })
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(iat + lifetimeSeconds)
      .sign(this.privateKey);
  }

  /** A v1 app-only access token for Graph, as Entra issues for client credentials. */
  appToken(tenantId: string, appId: string, roles: string[], nowMs: number): Promise<string> {
    return this.sign(
      {
        aud: GRAPH_RESOURCE,
        iss: `https://sts.windows.net/${tenantId}/`,
        tid: tenantId,
        appid: appId,
        appidacr: '1',
        idtyp: 'app',
        oid: appId,
        sub: appId,
        roles,
        ver: '1.0',
        uti: randomUUID(),
      },
      3599,
      nowMs,
    );
  }

  /** A change-notification validation token: audience is the subscribing app. */
  validationToken(tenantId: string, appId: string, nowMs: number): Promise<string> {
    return this.sign(
      {
        aud: appId,
        iss: `https://sts.windows.net/${tenantId}/`,
        idp: `https://sts.windows.net/${tenantId}/`,
        tid: tenantId,
        appid: NOTIFICATION_PUBLISHER_APP_ID,
        appidacr: '2',
        ver: '1.0',
        uti: randomUUID(),
      },
      8 * 3600,
      nowMs,
    );
  }

  /**
   * A delegated access token for our own API, as the Teams client gets it with
   * `getAuthToken` (tab SSO): the user's oid/tid/name, `scp`, and azp/appid = the Teams client.
   */
  userToken(r: UserTokenRequest): Promise<string> {
    const common = {
      aud: r.audience,
      tid: r.tenantId,
      oid: r.user.id,
      sub: `${r.user.id}-${r.audience}`.replace(/[^a-zA-Z0-9]/g, '').slice(0, 43),
      name: r.user.displayName,
      scp: r.scope,
      uti: randomUUID(),
      ver: r.version,
    };
    const claims =
      r.version === '2.0'
        ? {
            ...common,
            iss: r.v2Issuer,
            azp: TEAMS_CLIENT_APP_ID,
            azpacr: '0',
            preferred_username: r.user.userPrincipalName,
          }
        : {
            ...common,
            iss: `https://sts.windows.net/${r.tenantId}/`,
            appid: TEAMS_CLIENT_APP_ID,
            appidacr: '0',
            upn: r.user.userPrincipalName,
            unique_name: r.user.userPrincipalName,
          };
    return this.sign(claims, r.lifetimeSeconds, r.nowMs);
  }

  /** Verifies a Graph access token; returns its claims or a reason it was refused. */
  async verifyGraphToken(
    token: string,
    nowMs: number,
  ): Promise<{ ok: true; claims: AppTokenClaims } | { ok: false; error: string }> {
    try {
      const { payload } = await jwtVerify(token, createLocalJWKSet(this.jwks()), {
        audience: [GRAPH_RESOURCE, GRAPH_APP_ID],
        currentDate: new Date(nowMs),
      });
      return { ok: true, claims: payload as AppTokenClaims };
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ERR_JWT_EXPIRED')
        return { ok: false, error: 'Lifetime validation failed, the token is expired.' };
      if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED')
        return { ok: false, error: 'Access token validation failure. Invalid audience.' };
      return { ok: false, error: 'Signing key is invalid.' };
    }
  }
}
