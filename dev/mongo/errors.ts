/**
 * Server-side command errors, with MongoDB's own numeric codes and code names so that the
 * official driver raises `MongoServerError` exactly as it would against mongod.
 */
export class CommandError extends Error {
  constructor(
    readonly code: number,
    readonly codeName: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'CommandError';
  }

  /** The reply document mongod sends for a failed command. */
  toReply(): Record<string, unknown> {
    return { ok: 0, errmsg: this.message, code: this.code, codeName: this.codeName, ...this.extra };
  }
}

export const codes = {
  BadValue: 2,
  FailedToParse: 9,
  TypeMismatch: 14,
  IllegalOperation: 20,
  NamespaceNotFound: 26,
  IndexNotFound: 27,
  CursorNotFound: 43,
  NamespaceExists: 48,
  CommandNotFound: 59,
  InvalidNamespace: 73,
  IndexOptionsConflict: 85,
  IndexKeySpecsConflict: 86,
  NotImplemented: 238,
  DuplicateKey: 11000,
  UnknownField: 40415,
} as const;

export function badValue(message: string): CommandError {
  return new CommandError(codes.BadValue, 'BadValue', message);
}

export function typeMismatch(message: string): CommandError {
  return new CommandError(codes.TypeMismatch, 'TypeMismatch', message);
}
