import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import {
  MongoNetworkError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';
import { StoreUnavailableError } from '../errors/index.js';

/** Server error codes mongod uses for "try again" conditions (not-primary, shutdown, …). */
const TRANSIENT_CODES = new Set([6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436]);

/**
 * Errors worth an immediate, bounded retry. Server-selection timeouts are not: the driver has
 * already waited for the server, and waiting again would blow the webhook's 3 s budget.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof MongoServerSelectionError) return false;
  // Pool-cleared errors are network errors too.
  if (err instanceof MongoNetworkError) return true;
  if (err instanceof MongoServerError) {
    return TRANSIENT_CODES.has(Number(err.code)) || err.hasErrorLabel('RetryableWriteError');
  }
  return false;
}

/** Errors that mean the database cannot be reached at all (as opposed to a bad request). */
export function isUnavailable(err: unknown): boolean {
  return (
    err instanceof MongoServerSelectionError ||
    err instanceof MongoTopologyClosedError ||
    isTransient(err)
  );
}

export type Runner = <R>(operation: string, fn: () => Promise<R>) => Promise<R>;

export interface RetryOptions {
  /** Total tries, the first included (default 3). */
  maxAttempts?: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * Runs store operations with a bounded retry on transient errors. When the database stays
 * unreachable the caller gets StoreUnavailableError; other errors pass through unchanged.
 */
export function createRunner(options: RetryOptions = {}): Runner {
  const policy = retry(handleWhen(isTransient), {
    // cockatiel counts retries, not tries.
    maxAttempts: (options.maxAttempts ?? 3) - 1,
    backoff: new ExponentialBackoff({
      initialDelay: options.initialDelayMs ?? 50,
      maxDelay: options.maxDelayMs ?? 500,
    }),
  });
  return async (operation, fn) => {
    try {
      return await policy.execute(fn);
    } catch (err) {
      if (isUnavailable(err)) throw new StoreUnavailableError(operation, err);
      throw err;
    }
  };
}

/** True for MongoDB's duplicate-key error (E11000). */
export function isDuplicateKey(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === 11000;
}
