import type { Collection } from 'mongodb';
import { isDuplicateKey, type Runner } from './retry.js';

/** A named, time-limited lock: "this instance manages subscriptions until expiresAt". */
export interface Lease {
  _id: string;
  owner: string;
  expiresAt: Date;
}

export class LeasesRepository {
  constructor(
    private readonly coll: Collection<Lease>,
    private readonly run: Runner,
  ) {}

  /**
   * Takes or renews the lease. True when `owner` holds it afterwards. A lease whose holder
   * stopped renewing is taken over once it expires.
   */
  async acquire(name: string, owner: string, now: Date, ttlMs: number): Promise<boolean> {
    return this.run('leases.acquire', async () => {
      try {
        await this.coll.updateOne(
          { _id: name, $or: [{ owner }, { expiresAt: { $lte: now } }] },
          { $set: { owner, expiresAt: new Date(now.getTime() + ttlMs) } },
          { upsert: true },
        );
        return true;
      } catch (err) {
        // The upsert collided with a live lease held by someone else.
        if (isDuplicateKey(err)) return false;
        throw err;
      }
    });
  }

  async release(name: string, owner: string): Promise<boolean> {
    const r = await this.run('leases.release', () => this.coll.deleteOne({ _id: name, owner }));
    return r.deletedCount === 1;
  }

  get(name: string): Promise<Lease | null> {
    return this.run('leases.get', () => this.coll.findOne({ _id: name }));
  }
}
