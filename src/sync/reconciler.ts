import type { GraphApi } from '../graph/index.js';
import type { Logger } from '../logging/index.js';
import type { MeetingScheduler } from '../meetings/index.js';
import type { NewInboxItem, Store } from '../store/index.js';
import { changeDedupeKey } from './webhook.js';

export interface ReconcileResult {
  at: Date;
  reason: string;
  meetingsChecked: number;
  recordingsFound: number;
  transcriptsFound: number;
  enqueued: number;
  reenforced: number;
  errors: string[];
}

export interface ReconcilerOptions {
  store: Store;
  graph: GraphApi;
  logger: Logger;
  now: () => Date;
  tenantId: string;
  /** Re-enforces recordAutomatically on upcoming meetings. */
  scheduler?: MeetingScheduler;
  /** How far back "ended recently" reaches. */
  lookbackMs?: number;
  /** Told when items were enqueued (wakes the workers). */
  onEnqueued?: () => void;
}

/**
 * Catches what notifications missed: lists the recordings and transcripts of meetings that
 * ended recently and puts them in the inbox under the same keys notifications use (so nothing
 * is carded twice), and turns automatic recording back on for upcoming meetings where someone
 * switched it off. Runs periodically, on `missed`, and after a subscription is (re)created.
 */
export class Reconciler {
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<ReconcileResult> | undefined;
  private again: string | undefined;

  constructor(private readonly options: ReconcilerOptions) {
    this.log = options.logger.child({ component: 'reconciler' });
  }

  start(intervalMs: number): void {
    this.stopTimer();
    this.timer = setInterval(() => this.runSoon('periodic'), intervalMs);
    this.timer.unref();
    this.runSoon('startup');
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  async stop(): Promise<void> {
    this.stopTimer();
    this.again = undefined;
    await this.running?.catch(() => undefined);
  }

  /** Runs now, or right after the run in progress (several requests collapse into one). */
  runSoon(reason: string): void {
    if (this.running) {
      this.again = reason;
      return;
    }
    void this.run(reason).catch((err: unknown) =>
      this.log.warn({ err, reason }, 'reconcile failed; the next run retries'),
    );
  }

  async run(reason: string): Promise<ReconcileResult> {
    if (this.running) await this.running.catch(() => undefined);
    this.running = this.once(reason);
    try {
      return await this.running;
    } finally {
      this.running = undefined;
      const next = this.again;
      this.again = undefined;
      if (next) this.runSoon(next);
    }
  }

  private async once(reason: string): Promise<ReconcileResult> {
    const { store, graph, now: clock } = this.options;
    const now = clock();
    const result: ReconcileResult = {
      at: now,
      reason,
      meetingsChecked: 0,
      recordingsFound: 0,
      transcriptsFound: 0,
      enqueued: 0,
      reenforced: 0,
      errors: [],
    };
    const since = new Date(now.getTime() - (this.options.lookbackMs ?? 2 * 86_400_000));
    const items: NewInboxItem[] = [];
    for (const m of await store.meetings.listEndedBetween(since, now)) {
      const recordings = await store.recordings.listByMeeting(m._id);
      const needRecordings = recordings.length === 0;
      const needTranscripts = !m.transcripts?.length;
      if (!needRecordings && !needTranscripts) continue;
      result.meetingsChecked++;
      try {
        if (needRecordings)
          for (const r of await graph.listRecordings(m.organizerId, m.onlineMeetingId!)) {
            result.recordingsFound++;
            items.push(this.item('recording', m.onlineMeetingId!, r.id, m.organizerId));
          }
        if (needTranscripts)
          for (const t of await graph.listTranscripts(m.organizerId, m.onlineMeetingId!)) {
            result.transcriptsFound++;
            items.push(this.item('transcript', m.onlineMeetingId!, t.id, m.organizerId));
          }
      } catch (err) {
        result.errors.push(`${m.title}: ${(err as Error).message}`.slice(0, 300));
      }
    }
    if (items.length) {
      const stored = await store.inbox.enqueue(items, clock());
      result.enqueued = stored.stored;
      if (stored.stored) this.options.onEnqueued?.();
    }
    if (this.options.scheduler)
      for (const m of await store.meetings.listUpcomingEnabled(now)) {
        try {
          if ((await this.options.scheduler.reenforce(m)).length) result.reenforced++;
        } catch (err) {
          result.errors.push(`${m.title}: ${(err as Error).message}`.slice(0, 300));
        }
      }
    await store.stats.setValue('reconcile.last', { ...result }, clock());
    this.log.info(
      {
        reason,
        meetingsChecked: result.meetingsChecked,
        enqueued: result.enqueued,
        reenforced: result.reenforced,
        errors: result.errors.length,
      },
      'reconciled',
    );
    return result;
  }

  private item(
    artifact: 'recording' | 'transcript',
    onlineMeetingId: string,
    artifactId: string,
    organizerId: string,
  ): NewInboxItem {
    return {
      dedupeKey: changeDedupeKey({ artifact, onlineMeetingId, artifactId }),
      kind: 'change',
      subscriptionId: 'reconciler',
      tenantId: this.options.tenantId.toLowerCase(),
      payload: { artifact, onlineMeetingId, artifactId, organizerId },
    };
  }
}
