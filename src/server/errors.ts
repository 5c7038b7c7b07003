import type { Response } from 'restify';
import { AppError, ErrorCode } from '../errors/index.js';

/** The only place an error code becomes an HTTP status. */
const STATUS: Record<ErrorCode, number> = {
  [ErrorCode.ConfigInvalid]: 500,
  [ErrorCode.ValidationFailed]: 400,
  [ErrorCode.Unauthorized]: 401,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.MethodNotAllowed]: 405,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.PayloadTooLarge]: 413,
  [ErrorCode.UnsupportedMediaType]: 415,
  [ErrorCode.StoreUnavailable]: 503,
  [ErrorCode.GraphPermissionMissing]: 502,
  [ErrorCode.GraphAccessPolicyMissing]: 502,
  [ErrorCode.GraphAuthFailed]: 502,
  [ErrorCode.GraphThrottled]: 503,
  [ErrorCode.GraphNotFound]: 404,
  [ErrorCode.GraphBadRequest]: 502,
  [ErrorCode.GraphUnavailable]: 502,
  [ErrorCode.ShuttingDown]: 503,
  [ErrorCode.Internal]: 500,
};

/** restify's own errors (router, body reader) by their `name`, mapped to our codes. */
const RESTIFY_CODES: Record<string, ErrorCode> = {
  ResourceNotFoundError: ErrorCode.NotFound,
  MethodNotAllowedError: ErrorCode.MethodNotAllowed,
  PayloadTooLargeError: ErrorCode.PayloadTooLarge,
  RequestEntityTooLargeError: ErrorCode.PayloadTooLarge,
  UnsupportedMediaTypeError: ErrorCode.UnsupportedMediaType,
  BadRequestError: ErrorCode.ValidationFailed,
  InvalidContentError: ErrorCode.ValidationFailed,
};

export interface ErrorBody {
  error: { code: ErrorCode; message: string; requestId?: string };
}

/**
 * Describes an error for a client. Internal errors get a generic message: stack traces and
 * driver messages stay in the logs.
 */
export function describe(err: unknown, requestId?: string): { status: number; body: ErrorBody } {
  let code: ErrorCode = ErrorCode.Internal;
  let message =
    'Something went wrong on our side. Try again; if it keeps failing, tell your admin the request id.';
  if (err instanceof AppError) {
    code = err.code;
    if (code !== ErrorCode.Internal && code !== ErrorCode.ConfigInvalid) message = err.message;
  } else if (err instanceof Error && RESTIFY_CODES[err.name]) {
    code = RESTIFY_CODES[err.name]!;
    message = publicRestifyMessage(code);
  }
  return {
    status: STATUS[code],
    body: { error: { code, message, ...(requestId ? { requestId } : {}) } },
  };
}

function publicRestifyMessage(code: ErrorCode): string {
  switch (code) {
    case ErrorCode.NotFound:
      return 'No such route.';
    case ErrorCode.MethodNotAllowed:
      return 'This route does not accept that method.';
    case ErrorCode.PayloadTooLarge:
      return 'The request body is larger than this server accepts.';
    case ErrorCode.UnsupportedMediaType:
      return 'The request content type is not supported here.';
    default:
      return 'The request could not be read.';
  }
}

export function sendError(res: Response, err: unknown, requestId?: string): void {
  const { status, body } = describe(err, requestId);
  res.status(status);
  res.json(body);
}
