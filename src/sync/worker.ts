import { DeliveryError, GraphRequestError } from '../errors/index.js';
import type { CallRecording, CallTranscript, GraphApi } from '../graph/index.js';
import { parseVtt } from '../transcripts/index.js';
import type { Logger } from '../logging/index.js';
import type {
  ConversationRecord,
  InboxItem,
  Meeting,
  RecordingRecord,
  Store,
} from '../store/index.js';
import { formatWhen } from '../meetings/index.js';
import type { SubscriptionManager } from './subscriptions.js';

/** What a recording card shows. Built here; drawn by the bot's template. */
export interface RecordingCardData {
  recordingId: string;
  title: string;
  /** Formatted for the class: "Mon, 2 Mar 2030, 10:00 CET". */
  when: string;
  /** "1 h 30 min". */
  duration: string;
  organizer: string;
  /** Opens the meeting in Teams, where the recording and recap live. */
  viewUrl?: string;
  transcripts: number;
}

/** Posts and updates recording cards in class conversations (the bot implements it). */
export interface ClassPoster {
  post(conversation: ConversationRecord, card: RecordingCardData): Promise<string>;
  update(
    conversation: ConversationRecord,
    activityId: string,
    card: RecordingCardData,
  ): Promise<void>;
}

/** Thrown for conditions that clear by themselves (another worker is mid-post…). */
class TryLater extends Error {}

interface Outcome {
  status: 'done' | 'ignored' | 'failed';
  note?: string;
}

export interface SyncWorkerOptions {
  store: Store;
  graph: GraphApi;
  logger: Logger;
  poster: ClassPoster;
  now: () => Date;
  instanceId: string;
  /** Reacts to lifecycle events; absent when this app makes no subscriptions. */
  subscriptions?: SubscriptionManager;
  concurrency?: number;
  /** An item whose worker died is claimable again after this. */
  leaseMs?: number;
  maxAttempts?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** How often idle workers look for items that became available (backoff, expired leases). */
  pollMs?: number;
  /** Finished items stay this long (the dedupe window for late duplicates), then expire. */
  retainMs?: number;
}

export function formatDuration(ms: number): string {
  const minutes = Math.max(1, Math.round(ms / 60_000));
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return h ? (m ? `${h} h ${m} min` : `${h} h`) : `${m} min`;
}

/**
 * Works the inbox: claims items with a lease, turns recording and transcript notifications
 * into exactly one card per recording (updated in place when a transcript arrives), and hands
 * lifecycle events to the subscription manager. Failures back off exponentially; permanent ones
 * end as dead letters (status `failed`) that the admin report shows.
 */
export class SyncWorker {
  private readonly log: Logger;
  private running = false;
  private loops: Promise<void>[] = [];
  private wake: (() => void)[] = [];
  private readonly o: Required<
    Pick<
      SyncWorkerOptions,
      | 'concurrency'
      | 'leaseMs'
      | 'maxAttempts'
      | 'backoffBaseMs'
      | 'backoffMaxMs'
      | 'pollMs'
      | 'retainMs'
    >
  >;

  constructor(private readonly options: SyncWorkerOptions) {
    this.log = options.logger.child({ component: 'sync-worker' });
    this.o = {
      concurrency: options.concurrency ?? 2,
      leaseMs: options.leaseMs ?? 60_000,
      maxAttempts: options.maxAttempts ?? 8,
      backoffBaseMs: options.backoffBaseMs ?? 1000,
      backoffMaxMs: options.backoffMaxMs ?? 300_000,
      pollMs: options.pollMs ?? 1000,
      retainMs: options.retainMs ?? 7 * 86_400_000,
    };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (let i = 0; i < this.o.concurrency; i++) this.loops.push(this.loop());
  }

  async stop(): Promise<void> {
    this.running = false;
    this.kick();
    await Promise.all(this.loops);
    this.loops = [];
  }

  /** Wakes idle workers (new items were stored). */
  kick(): void {
    const waiting = this.wake;
    this.wake = [];
    for (const w of waiting) w();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      let worked = false;
      try {
        worked = await this.runOnce();
      } catch (err) {
        // MongoDB down: wait and try again; the items stay in the inbox.
        this.log.warn({ err }, 'inbox unavailable; retrying');
      }
      if (!worked && this.running)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, this.o.pollMs);
          function done() {
            clearTimeout(timer);
            resolve();
          }
          this.wake.push(done);
        });
    }
  }

  /** Claims and processes one item. False when there was nothing to do. */
  async runOnce(): Promise<boolean> {
    const { store, instanceId } = this.options;
    const item = await store.inbox.claim(instanceId, this.options.now(), this.o.leaseMs);
    if (!item) return false;
    let outcome: Outcome;
    try {
      outcome = item.kind === 'lifecycle' ? await this.lifecycle(item) : await this.change(item);
    } catch (err) {
      const permanent = err instanceof DeliveryError && err.permanent;
      const reason = describe(err);
      if (permanent || item.attempts >= this.o.maxAttempts) {
        this.log.error(
          { err, itemId: item._id, attempts: item.attempts },
          'notification dead-lettered',
        );
        await store.inbox.complete(
          item._id,
          instanceId,
          'failed',
          this.options.now(),
          this.o.retainMs,
          reason,
        );
        return true;
      }
      const delay = Math.min(this.o.backoffMaxMs, this.o.backoffBaseMs * 2 ** (item.attempts - 1));
      if (!(err instanceof TryLater))
        this.log.warn(
          { err, itemId: item._id, attempts: item.attempts, retryInMs: delay },
          'notification failed; will retry',
        );
      await store.inbox.retryLater(
        item._id,
        instanceId,
        new Date(this.options.now().getTime() + delay),
        reason,
      );
      return true;
    }
    await store.inbox.complete(
      item._id,
      instanceId,
      outcome.status,
      this.options.now(),
      this.o.retainMs,
      outcome.note,
    );
    return true;
  }

  private async lifecycle(item: InboxItem): Promise<Outcome> {
    const manager = this.options.subscriptions;
    if (!manager) return { status: 'ignored', note: 'this app manages no subscriptions' };
    const note = await manager.handleLifecycle(
      item.subscriptionId,
      item.payload.lifecycleEvent as 'reauthorizationRequired' | 'subscriptionRemoved' | 'missed',
    );
    this.log.info(
      { subscriptionId: item.subscriptionId, event: item.payload.lifecycleEvent, note },
      'lifecycle event handled',
    );
    return { status: 'done', note };
  }

  private async change(item: InboxItem): Promise<Outcome> {
    const p = item.payload as {
      artifact: 'recording' | 'transcript';
      onlineMeetingId: string;
      artifactId: string;
      resource?: Record<string, unknown>;
    };
    const meeting = await this.options.store.meetings.findByOnlineMeetingId(p.onlineMeetingId);
    if (!meeting) {
      this.log.info(
        { onlineMeetingId: p.onlineMeetingId, artifact: p.artifact },
        'ignored: not a meeting this app scheduled',
      );
      return { status: 'ignored', note: 'ignored, unknown meeting' };
    }
    return p.artifact === 'recording'
      ? this.recording(meeting, p.artifactId, p.resource as CallRecording | undefined)
      : this.transcript(meeting, p.artifactId, p.resource as CallTranscript | undefined);
  }

  private async recording(
    meeting: Meeting,
    recordingId: string,
    fromNotification?: CallRecording,
  ): Promise<Outcome> {
    const { store, graph } = this.options;
    const known = await store.recordings.get(recordingId);
    if (known?.card.state === 'posted') return { status: 'done', note: 'card already posted' };
    if (known?.card.state === 'failed') return { status: 'failed', note: known.card.error };
    const rec =
      fromNotification ??
      (await graph.getRecording(meeting.organizerId, meeting.onlineMeetingId!, recordingId));
    let record = await store.recordings.upsert(
      {
        _id: rec.id,
        meetingId: meeting._id,
        onlineMeetingId: meeting.onlineMeetingId!,
        organizerId: meeting.organizerId,
        conversationId: meeting.class.conversationId,
        title: meeting.title,
        createdDateTime: new Date(rec.createdDateTime ?? this.options.now()),
        endDateTime: rec.endDateTime ? new Date(rec.endDateTime) : undefined,
        contentUrl: rec.recordingContentUrl ?? '',
      },
      this.options.now(),
    );
    for (const t of meeting.transcripts ?? [])
      record =
        (await store.recordings.addTranscript(record._id, t.id, this.options.now())) ?? record;
    return this.ensureCard(record, meeting, rec);
  }

  /** Posts the recording's card unless it is posted; exactly one worker wins the claim. */
  private async ensureCard(
    record: RecordingRecord,
    meeting: Meeting,
    rec?: CallRecording,
  ): Promise<Outcome> {
    const { store, instanceId } = this.options;
    const now = this.options.now();
    if (!(await store.recordings.claimCard(record._id, instanceId, now, this.o.leaseMs))) {
      const current = await store.recordings.get(record._id);
      if (current?.card.state === 'posted') return { status: 'done', note: 'card already posted' };
      if (current?.card.state === 'failed') return { status: 'failed', note: current.card.error };
      throw new TryLater('another worker is posting this card');
    }
    const conversation = await store.conversations.get(meeting.class.conversationId);
    if (!conversation) {
      const error = 'the class conversation is not known to the bot (was it removed?)';
      await store.recordings.markCardFailed(record._id, instanceId, error, now);
      return { status: 'failed', note: error };
    }
    let activityId: string;
    try {
      activityId = await this.options.poster.post(
        conversation,
        this.cardData(record, meeting, rec),
      );
    } catch (err) {
      if (err instanceof DeliveryError && err.permanent) {
        await store.recordings.markCardFailed(
          record._id,
          instanceId,
          err.message,
          this.options.now(),
        );
        this.log.error(
          { recordingId: record._id, conversationId: conversation._id, status: err.status },
          'recording card cannot be posted: dead letter',
        );
        return { status: 'failed', note: err.message };
      }
      await store.recordings.releaseCard(record._id, instanceId, this.options.now());
      throw err;
    }
    await store.recordings.markCardPosted(record._id, instanceId, activityId, this.options.now());
    this.log.info(
      { recordingId: record._id, conversationId: conversation._id, activityId },
      'recording card posted',
    );
    // A transcript that arrived while the card was being posted goes onto it now.
    const after = await store.recordings.get(record._id);
    if (after && after.transcriptIds.length > record.transcriptIds.length)
      await this.options.poster.update(
        conversation,
        activityId,
        this.cardData(after, meeting, rec),
      );
    return { status: 'done' };
  }

  private async transcript(
    meeting: Meeting,
    transcriptId: string,
    fromNotification?: CallTranscript,
  ): Promise<Outcome> {
    const { store, graph } = this.options;
    const t =
      fromNotification ??
      (await graph.getTranscript(meeting.organizerId, meeting.onlineMeetingId!, transcriptId));
    const now = this.options.now();
    // The text first (for the tab's reader and search): a failed download is retried before
    // anything records the transcript as handled.
    const vtt = await graph.getTranscriptVtt(meeting.organizerId, meeting.onlineMeetingId!, t.id);
    const cues = parseVtt(vtt);
    await store.transcripts.put({
      _id: t.id,
      meetingId: meeting._id,
      conversationId: meeting.class.conversationId,
      createdDateTime: new Date(t.createdDateTime ?? now),
      cues,
      text: cues.map((c) => c.text).join('\n'),
      updatedAt: now,
    });
    await store.meetings.addTranscript(
      meeting._id,
      { id: t.id, createdDateTime: new Date(t.createdDateTime ?? now) },
      now,
    );
    const recordings = await store.recordings.listByMeeting(meeting._id);
    if (recordings.some((r) => r.card.state === 'posting'))
      throw new TryLater('a recording card of this meeting is being posted');
    let conversation: ConversationRecord | null | undefined;
    for (const r of recordings) {
      const had = r.transcriptIds.includes(t.id);
      const updated = (await store.recordings.addTranscript(r._id, t.id, now)) ?? r;
      if (r.card.state !== 'posted' || !r.card.activityId || had) continue;
      conversation ??= await store.conversations.get(r.conversationId);
      if (!conversation) continue;
      await this.options.poster.update(
        conversation,
        r.card.activityId,
        this.cardData(updated, meeting),
      );
      this.log.info(
        { recordingId: r._id, transcriptId: t.id },
        'recording card updated with the transcript',
      );
    }
    return { status: 'done', note: recordings.length ? undefined : 'kept for the recording card' };
  }

  private cardData(
    record: RecordingRecord,
    meeting: Meeting,
    rec?: CallRecording,
  ): RecordingCardData {
    const organizer =
      (rec?.meetingOrganizer as { user?: { displayName?: string | null } } | undefined)?.user
        ?.displayName ?? undefined;
    return recordingCardData(record, meeting, organizer);
  }
}

/** The card's content for a stored recording of a meeting. */
export function recordingCardData(
  record: RecordingRecord,
  meeting: Meeting,
  organizerName?: string,
): RecordingCardData {
  const zone = meeting.timeZone ?? 'UTC';
  const recorded =
    record.endDateTime && record.endDateTime.getTime() > record.createdDateTime.getTime()
      ? record.endDateTime.getTime() - record.createdDateTime.getTime()
      : meeting.endDateTime.getTime() - meeting.startDateTime.getTime();
  return {
    recordingId: record._id,
    title: meeting.title,
    when: formatWhen(meeting.startDateTime, zone),
    duration: formatDuration(recorded),
    organizer: organizerName ?? meeting.organizerName ?? 'the instructor',
    viewUrl: meeting.joinWebUrl,
    transcripts: record.transcriptIds.length,
  };
}

function describe(err: unknown): string {
  if (err instanceof GraphRequestError) return `${err.code}: ${err.message}`.slice(0, 500);
  if (err instanceof Error) return err.message.slice(0, 500);
  return String(err).slice(0, 500);
}
