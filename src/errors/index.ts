/**
 * Typed errors with stable codes. Capabilities throw these; only the server edge maps a code
 * to an HTTP status (see src/server/errors.ts).
 */
export const ErrorCode = {
  ConfigInvalid: 'CONFIG_INVALID',
  ValidationFailed: 'VALIDATION_FAILED',
  Unauthorized: 'UNAUTHORIZED',
  Forbidden: 'FORBIDDEN',
  NotFound: 'NOT_FOUND',
  MethodNotAllowed: 'METHOD_NOT_ALLOWED',
  Conflict: 'CONFLICT',
  PayloadTooLarge: 'PAYLOAD_TOO_LARGE',
  UnsupportedMediaType: 'UNSUPPORTED_MEDIA_TYPE',
  StoreUnavailable: 'STORE_UNAVAILABLE',
  GraphPermissionMissing: 'GRAPH_PERMISSION_MISSING',
  GraphAccessPolicyMissing: 'GRAPH_ACCESS_POLICY_MISSING',
  GraphAuthFailed: 'GRAPH_AUTH_FAILED',
  GraphThrottled: 'GRAPH_THROTTLED',
  GraphNotFound: 'GRAPH_NOT_FOUND',
  GraphBadRequest: 'GRAPH_BAD_REQUEST',
  GraphUnavailable: 'GRAPH_UNAVAILABLE',
  ShuttingDown: 'SHUTTING_DOWN',
  Internal: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A setting is missing or malformed. The message names the variable and the fix. */
export class ConfigError extends AppError {
  constructor(
    readonly variable: string,
    readonly problem: string,
    readonly fix: string,
  ) {
    super(ErrorCode.ConfigInvalid, `${variable} ${problem}. ${fix}`);
  }
}

/** MongoDB could not be reached, even after bounded retries. Callers answer 503. */
export class StoreUnavailableError extends AppError {
  constructor(operation: string, cause: unknown) {
    super(ErrorCode.StoreUnavailable, `MongoDB is unavailable (${operation})`, { cause });
  }
}

export class ValidationError extends AppError {
  constructor(message: string) {
    super(ErrorCode.ValidationFailed, message);
  }
}

export class NotFoundError extends AppError {
  constructor(message: string) {
    super(ErrorCode.NotFound, message);
  }
}

/**
 * A failed Microsoft Graph or Entra ID call. Carries what support needs (status, Graph's error
 * code, request id) and a message that tells an admin what to fix.
 */
export class GraphRequestError extends AppError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly details: {
      operation: string;
      status?: number;
      graphCode?: string;
      requestId?: string;
    },
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** The caller is not who they must be (missing, expired or forged credentials): 401. */
export class UnauthorizedError extends AppError {
  constructor(message: string) {
    super(ErrorCode.Unauthorized, message);
  }
}

/** The caller is known but may not do this: 403. */
export class ForbiddenError extends AppError {
  constructor(message: string) {
    super(ErrorCode.Forbidden, message);
  }
}

/**
 * A post to a Teams conversation failed. `permanent` when retrying cannot help (the bot was
 * removed from the team, the conversation is gone: 403 or 404 from the Bot Connector).
 */
export class DeliveryError extends AppError {
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(ErrorCode.Internal, message, options);
  }
}

/** The request body is not in the media type the route takes: 415. */
export class UnsupportedMediaTypeError extends AppError {
  constructor(message: string) {
    super(ErrorCode.UnsupportedMediaType, message);
  }
}
