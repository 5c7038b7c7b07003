import { GraphError } from '@microsoft/microsoft-graph-client';
import { ErrorCode, GraphRequestError } from '../errors/index.js';

const ADMIN_PERMISSIONS =
  'An admin adds it in Entra ID > App registrations > (this app) > API permissions > Add a permission > Microsoft Graph > Application permissions, then selects "Grant admin consent".';

/**
 * Turns a Graph failure into a GraphRequestError whose message says what is wrong and how an
 * admin fixes it. Tokens and secrets never appear in it.
 */
export function toGraphRequestError(
  operation: string,
  err: unknown,
  context: { organizerId?: string } = {},
): GraphRequestError {
  if (err instanceof GraphRequestError) return err;
  if (err instanceof GraphError) {
    const status = err.statusCode;
    const details = {
      operation,
      status,
      graphCode: err.code ?? undefined,
      requestId: err.requestId ?? undefined,
    };
    const said = err.message ?? '';
    if (status === 403 && /application access policy/i.test(said)) {
      const who = context.organizerId ? `organizer ${context.organizerId}` : 'this organizer';
      return new GraphRequestError(
        ErrorCode.GraphAccessPolicyMissing,
        `Microsoft Graph refused ${operation}: no Teams application access policy lets this app act for ${who}. ` +
          'A Teams admin runs New-CsApplicationAccessPolicy -Identity ClassroomRecorder -AppIds <app id>, then ' +
          `Grant-CsApplicationAccessPolicy -PolicyName ClassroomRecorder -Identity <organizer id> (or -Global). Changes can take up to 30 minutes to apply.`,
        details,
        { cause: err },
      );
    }
    if (status === 403) {
      const wanted = /requires one of '([^']+)'/.exec(said)?.[1];
      return new GraphRequestError(
        ErrorCode.GraphPermissionMissing,
        wanted
          ? `Microsoft Graph refused ${operation}: the app lacks the application permission ${wanted.split(', ').join(' or ')}. ${ADMIN_PERMISSIONS}`
          : `Microsoft Graph refused ${operation} (403 ${err.code ?? 'Forbidden'}): ${said} ${ADMIN_PERMISSIONS}`,
        details,
        { cause: err },
      );
    }
    if (status === 401) {
      return new GraphRequestError(
        ErrorCode.GraphAuthFailed,
        `Microsoft Graph did not accept the app's token for ${operation} (401 ${err.code ?? ''}). Check AAD_APP_TENANT_ID and AAD_APP_CLIENT_ID.`,
        details,
        { cause: err },
      );
    }
    if (status === 404)
      return new GraphRequestError(
        ErrorCode.GraphNotFound,
        `Microsoft Graph found nothing for ${operation}.`,
        details,
        { cause: err },
      );
    if (status === 429)
      return new GraphRequestError(
        ErrorCode.GraphThrottled,
        `Microsoft Graph is throttling ${operation}; retries ran out. Try again later.`,
        details,
        { cause: err },
      );
    if (status >= 500 || status === -1) {
      return new GraphRequestError(
        ErrorCode.GraphUnavailable,
        `Microsoft Graph failed ${operation} (${status === -1 ? 'network error' : status}). Try again later.`,
        details,
        { cause: err },
      );
    }
    return new GraphRequestError(
      ErrorCode.GraphBadRequest,
      `Microsoft Graph rejected ${operation} (${status} ${err.code ?? ''}): ${said}`,
      details,
      { cause: err },
    );
  }
  const e = err as { errorCode?: string; errorMessage?: string; name?: string } | undefined;
  if (e?.errorCode) {
    // msal-node errors: the token request itself failed.
    const aadsts = /AADSTS\d+/.exec(e.errorMessage ?? '')?.[0];
    const hint =
      e.errorCode === 'invalid_client'
        ? 'Entra ID rejected the client credentials: check SECRET_AAD_APP_CLIENT_SECRET (the secret value, not its id) and that it has not expired, or that the certificate in AAD_APP_CLIENT_CERTIFICATE_FILE is uploaded to the app registration.'
        : e.errorCode === 'unauthorized_client'
          ? 'Entra ID does not know this app in this tenant: check AAD_APP_CLIENT_ID and AAD_APP_TENANT_ID.'
          : `Entra ID refused the token request (${e.errorCode}).`;
    return new GraphRequestError(
      ErrorCode.GraphAuthFailed,
      `Could not get a Graph token for ${operation}. ${hint}${aadsts ? ` (${aadsts})` : ''}`,
      { operation, graphCode: e.errorCode },
      { cause: err },
    );
  }
  return new GraphRequestError(
    ErrorCode.GraphUnavailable,
    `Microsoft Graph could not be reached for ${operation}: ${(err as Error)?.message ?? String(err)}`,
    { operation },
    { cause: err },
  );
}
