import { MongoClient, type Db } from 'mongodb';
import type { Logger } from '../logging/index.js';
import { AuditRepository } from './audit.js';
import { Collections, INDEXES, type CollectionName } from './collections.js';
import { ConversationsRepository } from './conversations.js';
import { InboxRepository } from './inbox.js';
import { LeasesRepository } from './leases.js';
import { MeetingsRepository } from './meetings.js';
import { NoticesRepository } from './notices.js';
import { RecordingsRepository } from './recordings.js';
import { createRunner, type RetryOptions, type Runner } from './retry.js';
import { StatsRepository } from './stats.js';
import { SubscriptionsRepository } from './subscriptions.js';
import { TranscriptsRepository } from './transcripts.js';
import { ViewsRepository } from './views.js';

export type { AuditEntry, NewAuditEntry } from './audit.js';
export { Collections, INDEXES } from './collections.js';
export type { ConversationKind, ConversationRecord } from './conversations.js';
export type { InboxItem, InboxStatus, NewInboxItem } from './inbox.js';
export type { Lease } from './leases.js';
export type { Meeting, MeetingLinks, RecordingStatus } from './meetings.js';
export type { NoticeDelivery, NoticeOccasion } from './notices.js';
export type {
  CardState,
  NewRecording,
  Page,
  RecordingQuery,
  RecordingRecord,
} from './recordings.js';
export { isDuplicateKey, isTransient } from './retry.js';
export type { StatRecord } from './stats.js';
export type { SubscriptionRecord } from './subscriptions.js';
export type { TranscriptCue, TranscriptRecord } from './transcripts.js';

export interface StoreOptions {
  uri: string;
  dbName: string;
  logger: Logger;
  serverSelectionTimeoutMs?: number;
  /** How often the driver probes the server; bounds how fast an outage or recovery shows. */
  heartbeatMs?: number;
  retry?: RetryOptions;
}

export interface Repositories {
  meetings: MeetingsRepository;
  conversations: ConversationsRepository;
  subscriptions: SubscriptionsRepository;
  inbox: InboxRepository;
  recordings: RecordingsRepository;
  audit: AuditRepository;
  leases: LeasesRepository;
  notices: NoticesRepository;
  stats: StatsRepository;
  transcripts: TranscriptsRepository;
  views: ViewsRepository;
}

/** The app's MongoDB: typed repositories over one driver client. */
export interface Store extends Repositories {
  readonly db: Db;
  /** Creates every index the app relies on. Idempotent. */
  ensureIndexes(): Promise<void>;
  /** True when the server answers `ping` within `timeoutMs`. Never throws. */
  ping(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Builds the store. Nothing connects until the first operation: the driver connects lazily
 * and reconnects by itself after an outage, so the app never has to be restarted.
 */
export function createStore(options: StoreOptions): Store {
  const client = new MongoClient(options.uri, {
    serverSelectionTimeoutMS: options.serverSelectionTimeoutMs ?? 5000,
    heartbeatFrequencyMS: options.heartbeatMs ?? 2000,
    appName: 'classroom-recorder',
  });
  const log = options.logger.child({ component: 'store' });
  client.on('serverHeartbeatFailed', (e) =>
    log.debug({ connectionId: e.connectionId, err: e.failure }, 'mongodb heartbeat failed'),
  );
  const db = client.db(options.dbName);
  // The driver's implicit connect closes the client for good when the first attempt fails
  // (MongoTopologyClosedError ever after). Connecting explicitly until it succeeds once avoids
  // that; after the first success the driver reconnects by itself through outages.
  let connected = false;
  const ensureConnected = async (): Promise<void> => {
    if (connected) return;
    await client.connect();
    connected = true;
  };
  const retrying = createRunner(options.retry);
  const run: Runner = (operation, fn) =>
    retrying(operation, async () => {
      await ensureConnected();
      return fn();
    });
  const coll = <T extends object>(name: CollectionName) => db.collection<T>(name);

  return {
    db,
    meetings: new MeetingsRepository(coll(Collections.meetings), run),
    conversations: new ConversationsRepository(coll(Collections.conversations), run),
    subscriptions: new SubscriptionsRepository(coll(Collections.subscriptions), run),
    inbox: new InboxRepository(coll(Collections.inbox), run),
    recordings: new RecordingsRepository(coll(Collections.recordings), run),
    audit: new AuditRepository(coll(Collections.audit), run),
    leases: new LeasesRepository(coll(Collections.leases), run),
    notices: new NoticesRepository(coll(Collections.notices), run),
    stats: new StatsRepository(coll(Collections.stats), run),
    transcripts: new TranscriptsRepository(coll(Collections.transcripts), run),
    views: new ViewsRepository(coll(Collections.views), run),

    async ensureIndexes() {
      for (const [name, indexes] of Object.entries(INDEXES)) {
        await run(`createIndexes ${name}`, () => db.collection(name).createIndexes(indexes));
      }
      log.info({ collections: Object.keys(INDEXES).length }, 'indexes ensured');
    },

    async ping(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      const attempt = ensureConnected()
        .then(() => db.command({ ping: 1 }))
        .then(() => true)
        .catch((err: unknown) => {
          log.debug({ err }, 'mongodb ping failed');
          return false;
        });
      try {
        return await Promise.race([attempt, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },

    close: () => client.close(),
  };
}
