import { ObjectId, type Collection, type Document } from 'mongodb';
import type { Runner } from './retry.js';

/** Something worth keeping a record of: a recording override, a download, an admin action. */
export interface AuditEntry {
  _id: ObjectId;
  at: Date;
  action: string;
  actor: { id: string; name?: string };
  meetingId?: string;
  recordingId?: string;
  details: Document;
}

export type NewAuditEntry = Omit<AuditEntry, '_id'>;

export class AuditRepository {
  constructor(
    private readonly coll: Collection<AuditEntry>,
    private readonly run: Runner,
  ) {}

  async append(entry: NewAuditEntry): Promise<AuditEntry> {
    const doc = { _id: new ObjectId(), ...entry };
    await this.run('audit.append', () => this.coll.insertOne(doc));
    return doc;
  }

  /** Newest first, optionally narrowed to a meeting or an action. */
  list(filter: { meetingId?: string; action?: string } = {}, limit = 100): Promise<AuditEntry[]> {
    const q: Document = {};
    if (filter.meetingId) q.meetingId = filter.meetingId;
    if (filter.action) q.action = filter.action;
    return this.run('audit.list', () =>
      this.coll.find(q).sort({ at: -1, _id: -1 }).limit(limit).toArray(),
    );
  }
}
