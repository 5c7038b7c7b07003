import type { Request } from 'restify';
import { UnsupportedMediaTypeError, ValidationError } from '../errors/index.js';

/**
 * The JSON body of a POST, for routes that take only JSON: 415 for another media type, 400 for
 * text that is not JSON. The body reader has already enforced the size limit.
 */
export function readJsonBody(req: Request, what: string): unknown {
  const type = (req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json')
    throw new UnsupportedMediaTypeError(`${what} must be sent as application/json.`);
  try {
    return JSON.parse((req.body as Buffer | undefined)?.toString('utf8') ?? '');
  } catch {
    throw new ValidationError('The request body is not valid JSON.');
  }
}
