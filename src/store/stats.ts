import type { Collection, Document } from 'mongodb';
import type { Runner } from './retry.js';

/** A named counter or status record (dropped notifications by reason, the last reconcile…). */
export interface StatRecord {
  _id: string;
  count?: number;
  value?: Document;
  updatedAt: Date;
}

export class StatsRepository {
  constructor(
    private readonly coll: Collection<StatRecord>,
    private readonly run: Runner,
  ) {}

  /** Adds to counters atomically (one round trip for several). */
  async increment(counts: Record<string, number>, now: Date): Promise<void> {
    const entries = Object.entries(counts).filter(([, n]) => n !== 0);
    if (entries.length === 0) return;
    await this.run('stats.increment', () =>
      this.coll.bulkWrite(
        entries.map(([_id, n]) => ({
          updateOne: {
            filter: { _id },
            update: { $inc: { count: n }, $set: { updatedAt: now } },
            upsert: true,
          },
        })),
        { ordered: false },
      ),
    );
  }

  async setValue(id: string, value: Document, now: Date): Promise<void> {
    await this.run('stats.setValue', () =>
      this.coll.updateOne({ _id: id }, { $set: { value, updatedAt: now } }, { upsert: true }),
    );
  }

  get(id: string): Promise<StatRecord | null> {
    return this.run('stats.get', () => this.coll.findOne({ _id: id }));
  }

  /** Every record whose id starts with `prefix`, e.g. "notifications.dropped.". */
  list(prefix: string): Promise<StatRecord[]> {
    const escaped = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return this.run('stats.list', () =>
      this.coll
        .find({ _id: { $regex: `^${escaped}` } })
        .sort({ _id: 1 })
        .toArray(),
    );
  }
}
