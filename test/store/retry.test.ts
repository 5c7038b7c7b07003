import assert from 'node:assert/strict';
import { MongoNetworkError, MongoServerError, MongoServerSelectionError } from 'mongodb';
import { StoreUnavailableError } from '../../src/errors/index.js';
import { createRunner } from '../../src/store/retry.js';

const fast = { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2 };

function failing(
  errors: unknown[],
  value = 'ok',
): { fn: () => Promise<string>; calls: () => number } {
  let calls = 0;
  return {
    fn: async () => {
      const err = errors[calls++];
      if (err) throw err;
      return value;
    },
    calls: () => calls,
  };
}

describe('store: bounded retries', () => {
  it('retries a transient network error and succeeds', async () => {
    const op = failing([new MongoNetworkError('connection reset')]);
    assert.equal(await createRunner(fast)('op', op.fn), 'ok');
    assert.equal(op.calls(), 2);
  });

  it('retries "not writable primary" (10107) too', async () => {
    const op = failing([new MongoServerError({ code: 10107, errmsg: 'not primary' })]);
    assert.equal(await createRunner(fast)('op', op.fn), 'ok');
  });

  it('stops after the bound and reports StoreUnavailableError', async () => {
    const op = failing([1, 2, 3, 4].map(() => new MongoNetworkError('down')));
    await assert.rejects(
      createRunner(fast)('meetings.get', op.fn),
      (err: unknown) => err instanceof StoreUnavailableError && /meetings\.get/.test(err.message),
    );
    assert.equal(op.calls(), 3);
  });

  it('does not retry a server-selection timeout (the driver already waited)', async () => {
    const op = failing([new MongoServerSelectionError('no server', {} as never)]);
    await assert.rejects(createRunner(fast)('op', op.fn), StoreUnavailableError);
    assert.equal(op.calls(), 1);
  });

  it('passes other errors through untouched, without retrying', async () => {
    const dup = new MongoServerError({ code: 11000, errmsg: 'E11000 duplicate key error' });
    const op = failing([dup]);
    await assert.rejects(createRunner(fast)('op', op.fn), (err) => err === dup);
    assert.equal(op.calls(), 1);
  });
});
