import { randomBytes } from 'node:crypto';
import { ErrorCode, GraphRequestError } from '../errors/index.js';
import type { GraphApi } from '../graph/index.js';
import type { Logger } from '../logging/index.js';
import type { Store, SubscriptionRecord } from '../store/index.js';
import { hashClientState, type DecryptionKey } from './verify.js';

/** Graph's maximum for recording and transcript subscriptions (3 days), in minutes. */
export const MAX_SUBSCRIPTION_MINUTES = 4320;
const LEASE_NAME = 'subscription-manager';

export interface SubscriptionManagerOptions {
  store: Store;
  graph: GraphApi;
  logger: Logger;
  now: () => Date;
  tenantId: string;
  /** https address Graph reaches the app at; /api/notifications and /api/lifecycle hang off it. */
  publicBaseUrl: string;
  scope: 'organizer' | 'tenant';
  /** When set, subscriptions include resource data, encrypted for this certificate. */
  decryptionKey?: DecryptionKey;
  /** This instance, for the lease. */
  instanceId: string;
  /** How long a manager's lease lasts without renewal (another instance takes over after). */
  leaseMs?: number;
  /** New subscriptions expire this long ahead (close to Graph's maximum). */
  lifetimeMinutes?: number;
  /** Subscriptions expiring within this window are renewed. */
  renewWithinMinutes?: number;
  /** Asked to catch up with Graph (after a gap: a removed subscription, missed notifications). */
  onResync: (reason: string) => void;
}

/** What one round of the manager did, for logs and tests. */
export interface ManagerRound {
  leader: boolean;
  created: string[];
  renewed: string[];
  recreated: string[];
}

/**
 * Keeps the recording and transcript subscriptions alive. Only the instance holding the lease
 * in MongoDB manages them; if it dies, another takes over when the lease runs out. Lifecycle
 * events are handled by whichever instance's worker picks them from the inbox.
 */
export class SubscriptionManager {
  private readonly log: Logger;
  private readonly leaseMs: number;
  private readonly lifetimeMs: number;
  private readonly renewWithinMs: number;

  constructor(private readonly options: SubscriptionManagerOptions) {
    this.log = options.logger.child({ component: 'subscriptions' });
    this.leaseMs = options.leaseMs ?? 60_000;
    this.lifetimeMs = (options.lifetimeMinutes ?? MAX_SUBSCRIPTION_MINUTES - 15) * 60_000;
    this.renewWithinMs = (options.renewWithinMinutes ?? 24 * 60) * 60_000;
  }

  /** The resources that should have a live subscription now. */
  async desiredResources(): Promise<{ resource: string; organizerId?: string }[]> {
    if (this.options.scope === 'tenant')
      return [
        { resource: 'communications/onlineMeetings/getAllRecordings' },
        { resource: 'communications/onlineMeetings/getAllTranscripts' },
      ];
    const organizers = await this.options.store.meetings.listOrganizers();
    return organizers.flatMap((organizerId) => [
      { resource: `users/${organizerId}/onlineMeetings/getAllRecordings`, organizerId },
      { resource: `users/${organizerId}/onlineMeetings/getAllTranscripts`, organizerId },
    ]);
  }

  /**
   * One round: take (or keep) the lease, create what is missing, renew what expires soon.
   * A 404 on renewal means Graph dropped the subscription: it is recreated, then a resync runs.
   */
  async tick(): Promise<ManagerRound> {
    const { store } = this.options;
    const round: ManagerRound = { leader: false, created: [], renewed: [], recreated: [] };
    const now = this.options.now();
    if (!(await store.leases.acquire(LEASE_NAME, this.options.instanceId, now, this.leaseMs)))
      return round;
    round.leader = true;
    for (const want of await this.desiredResources()) {
      const have = (await store.subscriptions.findByResource(want.resource)).filter(
        (s) => s.expirationDateTime.getTime() > now.getTime(),
      );
      if (have.length === 0) {
        await this.create(want.resource, want.organizerId);
        round.created.push(want.resource);
      }
    }
    const cutoff = new Date(now.getTime() + this.renewWithinMs);
    for (const sub of await store.subscriptions.listExpiringBefore(cutoff)) {
      if ((await this.renew(sub)) === 'renewed') round.renewed.push(sub.resource);
      else round.recreated.push(sub.resource);
    }
    return round;
  }

  /** Renews one subscription; recreates it when Graph no longer has it. */
  async renew(sub: SubscriptionRecord): Promise<'renewed' | 'recreated'> {
    const now = this.options.now();
    const expiration = new Date(now.getTime() + this.lifetimeMs);
    try {
      const renewed = await this.options.graph.renewSubscription(sub._id, expiration.toISOString());
      await this.options.store.subscriptions.setExpiration(
        sub._id,
        new Date(renewed.expirationDateTime),
        now,
      );
      this.log.info(
        { subscriptionId: sub._id, expiration: renewed.expirationDateTime },
        'subscription renewed',
      );
      return 'renewed';
    } catch (err) {
      if (!(err instanceof GraphRequestError && err.code === ErrorCode.GraphNotFound)) throw err;
      await this.recreate(sub, 'renewal found no subscription (404)');
      return 'recreated';
    }
  }

  /** Creates a subscription with a fresh random clientState; only its hash is stored. */
  async create(resource: string, organizerId?: string): Promise<SubscriptionRecord> {
    const { graph, store, publicBaseUrl, decryptionKey } = this.options;
    const now = this.options.now();
    const clientState = randomBytes(32).toString('base64url');
    const created = await graph.createSubscription({
      resource,
      notificationUrl: `${publicBaseUrl}/api/notifications`,
      lifecycleNotificationUrl: `${publicBaseUrl}/api/lifecycle`,
      expirationDateTime: new Date(now.getTime() + this.lifetimeMs).toISOString(),
      clientState,
      ...(decryptionKey
        ? {
            includeResourceData: true,
            encryptionCertificate: decryptionKey.certificateBase64,
            encryptionCertificateId: decryptionKey.id,
          }
        : {}),
    });
    const record: SubscriptionRecord = {
      _id: created.id,
      resource,
      changeType: 'created',
      tenantId: this.options.tenantId.toLowerCase(),
      scope: organizerId ? 'organizer' : 'tenant',
      organizerId,
      clientStateHash: hashClientState(clientState),
      expirationDateTime: new Date(created.expirationDateTime),
      createdAt: now,
      updatedAt: now,
    };
    await store.subscriptions.upsert(record);
    this.log.info(
      { subscriptionId: created.id, resource, expiration: created.expirationDateTime },
      'subscription created',
    );
    // Anything that happened before the subscription existed (or while it was being stored)
    // is found by a resync.
    this.options.onResync(`subscription created for ${resource}`);
    return record;
  }

  /**
   * Replaces a subscription Graph no longer has. Only one caller replaces a given subscription
   * (a claim on its record): a lifecycle event handled twice, or a renewal racing it, makes one
   * new subscription. The new record is stored before the old one goes, so a concurrent manager
   * round never sees the resource uncovered and subscribes it a second time.
   */
  private async recreate(sub: SubscriptionRecord, reason: string): Promise<void> {
    const { store, instanceId } = this.options;
    if (
      !(await store.subscriptions.claimReplacement(
        sub._id,
        instanceId,
        this.options.now(),
        this.leaseMs,
      ))
    ) {
      this.log.info(
        { subscriptionId: sub._id, reason },
        'subscription is being recreated elsewhere',
      );
      return;
    }
    this.log.warn(
      { subscriptionId: sub._id, resource: sub.resource, reason },
      'recreating subscription',
    );
    await this.create(sub.resource, sub.organizerId);
    await store.subscriptions.remove(sub._id);
  }

  /** Reacts to a lifecycle event (from the inbox; any instance may run this). */
  async handleLifecycle(
    subscriptionId: string,
    event: 'reauthorizationRequired' | 'subscriptionRemoved' | 'missed',
  ): Promise<string> {
    const { store, graph } = this.options;
    const sub = await store.subscriptions.get(subscriptionId);
    if (!sub) return 'unknown subscription (already replaced)';
    if (event === 'missed') {
      this.options.onResync('Graph reported missed notifications');
      return 'resync';
    }
    if (event === 'subscriptionRemoved') {
      await this.recreate(sub, 'Graph removed the subscription');
      return 'recreated';
    }
    // reauthorizationRequired: reauthorize; a subscription close to expiry is renewed as well,
    // which also reauthorizes it.
    try {
      await graph.reauthorizeSubscription(sub._id);
    } catch (err) {
      if (!(err instanceof GraphRequestError && err.code === ErrorCode.GraphNotFound)) throw err;
      await this.recreate(sub, 'reauthorization found no subscription (404)');
      return 'recreated';
    }
    const now = this.options.now();
    if (sub.expirationDateTime.getTime() - now.getTime() < this.renewWithinMs) {
      return `reauthorized, ${await this.renew(sub)}`;
    }
    return 'reauthorized';
  }

  /** Gives the lease up (clean shutdown), so another instance takes over at once. */
  async release(): Promise<void> {
    await this.options.store.leases.release(LEASE_NAME, this.options.instanceId);
  }
}
