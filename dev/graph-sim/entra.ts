import { X509Certificate, createHash, randomUUID } from 'node:crypto';
import { decodeProtectedHeader, importX509, jwtVerify } from 'jose';
import { sendJson, type Ctx, type Router } from './http.js';
import { GRAPH_RESOURCE, type Identity } from './identity.js';
import type { SimState } from './state.js';

/** Entra ID's OAuth error body. */
function oauthError(
  ctx: Ctx,
  status: number,
  error: string,
  code: number,
  description: string,
): void {
  sendJson(ctx.res, status, {
    error,
    error_description: `AADSTS${code}: ${description} Trace ID: ${ctx.requestId} Correlation ID: ${randomUUID()} Timestamp: ${new Date().toISOString()}`,
    error_codes: [code],
    timestamp: new Date().toISOString(),
    trace_id: ctx.requestId,
    correlation_id: randomUUID(),
  });
}

/** OpenID metadata, JWKS and the v2.0 token endpoint (client credentials). */
export function registerEntraRoutes(
  router: Router,
  deps: { state: SimState; identity: Identity; baseUrl: () => string },
): void {
  const { state, identity } = deps;
  const known = (tenant: string) =>
    tenant === state.tenant.id || tenant === 'common' || tenant === 'organizations';

  router.add('GET', '/:tenant/v2.0/.well-known/openid-configuration', (ctx) => {
    const t = ctx.params.tenant!;
    if (!known(t)) return oauthError(ctx, 400, 'invalid_tenant', 90002, `Tenant '${t}' not found.`);
    const base = `${deps.baseUrl()}/${t}`;
    sendJson(ctx.res, 200, {
      issuer: `${deps.baseUrl()}/${t === 'common' || t === 'organizations' ? '{tenantid}' : t}/v2.0`,
      token_endpoint: `${base}/oauth2/v2.0/token`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      jwks_uri: `${deps.baseUrl()}/${t}/discovery/v2.0/keys`,
      token_endpoint_auth_methods_supported: [
        'client_secret_post',
        'private_key_jwt',
        'client_secret_basic',
      ],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      tenant_region_scope: 'EU',
      cloud_instance_name: 'microsoftonline.com',
    });
  });

  const keys = (ctx: Ctx) => sendJson(ctx.res, 200, identity.jwks());
  router.add('GET', '/:tenant/discovery/v2.0/keys', keys);
  router.add('GET', '/:tenant/discovery/keys', keys);

  router.add('POST', '/:tenant/oauth2/v2.0/token', async (ctx) => {
    const t = ctx.params.tenant!;
    if (t !== state.tenant.id)
      return oauthError(
        ctx,
        400,
        'invalid_request',
        90002,
        `Tenant '${t}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
      );
    const form = await ctx.body<Record<string, string>>();
    if (form.grant_type !== 'client_credentials') {
      return oauthError(
        ctx,
        400,
        'unsupported_grant_type',
        70003,
        `The app requested an unsupported grant type '${form.grant_type ?? ''}'.`,
      );
    }
    const app = form.client_id ? state.app(form.client_id) : undefined;
    if (!app) {
      return oauthError(
        ctx,
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${form.client_id ?? ''}' was not found in the directory '${state.tenant.displayName}'.`,
      );
    }
    if (form.client_assertion !== undefined) {
      if (form.client_assertion_type !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
        return oauthError(
          ctx,
          400,
          'invalid_request',
          700010,
          "Invalid client_assertion_type: expected 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.",
        );
      }
      const problem = await checkAssertion(
        form.client_assertion,
        app.clientId,
        app.certificates ?? [],
        `${deps.baseUrl()}/${t}/oauth2/v2.0/token`,
      );
      if (problem) return oauthError(ctx, 401, 'invalid_client', problem.code, problem.message);
    } else if (!form.client_secret) {
      return oauthError(
        ctx,
        401,
        'invalid_client',
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      );
    } else if (!app.secrets.includes(form.client_secret)) {
      return oauthError(
        ctx,
        401,
        'invalid_client',
        7000215,
        'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app.',
      );
    }
    const scopes = (form.scope ?? '').split(' ').filter(Boolean);
    if (scopes.length !== 1 || !scopes[0]!.endsWith('/.default')) {
      return oauthError(
        ctx,
        400,
        'invalid_scope',
        1002012,
        `The provided value for scope ${form.scope ?? ''} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      );
    }
    const resource = scopes[0]!.slice(0, -'/.default'.length);
    if (resource !== GRAPH_RESOURCE && resource !== '00000003-0000-0000-c000-000000000000') {
      return oauthError(
        ctx,
        400,
        'invalid_resource',
        500011,
        `The resource principal named ${resource} was not found in the tenant.`,
      );
    }
    sendJson(ctx.res, 200, {
      token_type: 'Bearer',
      expires_in: 3599,
      ext_expires_in: 3599,
      access_token: await identity.appToken(state.tenant.id, app.clientId, app.roles, Date.now()),
    });
  });
}

/**
 * Checks a certificate client assertion as Entra ID does: signed by a registered certificate
 * (matched by its x5t#S256 or x5t thumbprint), audience = the token endpoint, iss = sub = the
 * client id, not expired.
 */
async function checkAssertion(
  assertion: string,
  clientId: string,
  certificates: string[],
  tokenEndpoint: string,
): Promise<{ code: number; message: string } | undefined> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(assertion);
  } catch {
    return { code: 50027, message: 'Invalid JWT token. The token is malformed.' };
  }
  const cert = certificates.find((pem) => {
    const raw = new X509Certificate(pem).raw;
    return (
      header['x5t#S256'] === createHash('sha256').update(raw).digest('base64url') ||
      header.x5t === createHash('sha1').update(raw).digest('base64url')
    );
  });
  if (!cert) {
    return {
      code: 700027,
      message:
        'The certificate used to sign the client assertion is not registered on the application.',
    };
  }
  try {
    const key = await importX509(cert, String(header.alg));
    await jwtVerify(assertion, key, {
      audience: tokenEndpoint,
      issuer: clientId,
      subject: clientId,
      algorithms: ['PS256', 'RS256'],
      requiredClaims: ['exp'],
      // Entra tolerates five minutes of clock skew on assertions.
      clockTolerance: 300,
    });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_JWT_EXPIRED')
      return { code: 700024, message: 'Client assertion is not within its valid time range.' };
    if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED')
      return {
        code: 700021,
        message: 'Client assertion application identifier or audience does not match.',
      };
    return { code: 700027, message: 'Client assertion failed signature validation.' };
  }
  return undefined;
}
