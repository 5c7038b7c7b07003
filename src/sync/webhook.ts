import type { Request, Response, Server } from 'restify';
import { StoreUnavailableError, ValidationError } from '../errors/index.js';
import type { Logger } from '../logging/index.js';
import { readJsonBody, sendError } from '../server/index.js';
import type { NewInboxItem, Store } from '../store/index.js';
import {
  notificationBodySchema,
  type NotificationVerifier,
  type Rejection,
  type VerifiedChange,
  type VerifiedLifecycle,
} from './verify.js';

/** Graph's validation tokens are short opaque strings; anything longer is not Graph. */
const MAX_VALIDATION_TOKEN = 1024;

export function changeDedupeKey(
  c: Pick<VerifiedChange, 'artifact' | 'onlineMeetingId' | 'artifactId'>,
) {
  // The same recording notified twice, through two subscriptions, or found by the reconciler
  // is one inbox item.
  return `change:${c.artifact}:${c.onlineMeetingId}:${c.artifactId}`;
}

export function toInboxItem(v: VerifiedChange | VerifiedLifecycle): NewInboxItem {
  if (v.kind === 'lifecycle') {
    return {
      dedupeKey: `lifecycle:${v.subscriptionId}:${v.lifecycleEvent}:${v.subscriptionExpirationDateTime ?? ''}`,
      kind: 'lifecycle',
      subscriptionId: v.subscriptionId,
      tenantId: v.tenantId,
      payload: { lifecycleEvent: v.lifecycleEvent },
    };
  }
  return {
    dedupeKey: changeDedupeKey(v),
    kind: 'change',
    subscriptionId: v.subscriptionId,
    tenantId: v.tenantId,
    payload: {
      artifact: v.artifact,
      onlineMeetingId: v.onlineMeetingId,
      artifactId: v.artifactId,
      ...(v.organizerId ? { organizerId: v.organizerId } : {}),
      ...(v.resource ? { resource: v.resource } : {}),
    },
  };
}

export interface WebhookDeps {
  store: Store;
  logger: Logger;
  verifier: NotificationVerifier;
  now: () => Date;
  /** Wakes the workers: something new is in the inbox. */
  onAccepted: () => void;
}

/**
 * `POST /api/notifications` and `POST /api/lifecycle`: the validation handshake, then every
 * item checked, and only stored items acknowledged (202 after MongoDB has them; 503 when it
 * is down, so Graph retries).
 */
export function registerWebhookRoutes(server: Server, deps: WebhookDeps): void {
  const log = deps.logger.child({ component: 'webhook' });

  const handler =
    (kind: 'change' | 'lifecycle') =>
    async (req: Request, res: Response): Promise<void> => {
      try {
        const token = new URL(req.url ?? '/', 'http://x').searchParams.get('validationToken');
        if (token !== null) {
          // The subscription handshake: echo the (URL-decoded) token as text, within 10 s.
          if (token.length === 0 || token.length > MAX_VALIDATION_TOKEN)
            throw new ValidationError('The validationToken is empty or too long.');
          res.writeHead(200, {
            'content-type': 'text/plain; charset=utf-8',
            'x-content-type-options': 'nosniff',
            'content-length': Buffer.byteLength(token),
          });
          res.end(token);
          return;
        }
        const raw = readJsonBody(req, 'Notifications');
        const body = notificationBodySchema.safeParse(raw);
        if (!body.success) {
          const issue = body.error.issues[0]!;
          throw new ValidationError(
            `Not a change notification collection: ${issue.path.join('.') || 'body'} ${issue.message}`,
          );
        }
        const result =
          kind === 'change'
            ? await deps.verifier.verifyChanges(body.data)
            : await deps.verifier.verifyLifecycle(body.data);
        await countRejections(result.rejected, kind, req);
        const items = result.accepted.map(toInboxItem);
        // Durable before 202: the answer waits for MongoDB's acknowledgement.
        const stored = await deps.store.inbox.enqueue(items, deps.now());
        if (items.length > 0)
          log.info(
            { kind, accepted: items.length, new: stored.stored, duplicates: stored.duplicates },
            'notifications stored',
          );
        res.writeHead(202, { 'content-length': 0 });
        res.end();
        if (stored.stored > 0) deps.onAccepted();
      } catch (err) {
        if (err instanceof StoreUnavailableError)
          log.warn({ kind }, 'notifications not stored: MongoDB unavailable; Graph will retry');
        if (!res.headersSent) sendError(res, err, req.requestId);
      }
    };

  async function countRejections(
    rejected: Rejection[],
    kind: 'change' | 'lifecycle',
    req: Request,
  ): Promise<void> {
    if (rejected.length === 0) return;
    const counts: Record<string, number> = {};
    for (const r of rejected) {
      log.warn(
        { kind, index: r.index, reason: r.reason, reqId: req.requestId },
        'notification dropped',
      );
      const key = `notifications.dropped.${r.reason.split(/[:(]/)[0]!.trim().replace(/\s+/g, '_')}`;
      counts[key] = (counts[key] ?? 0) + 1;
    }
    await deps.store.stats.increment(counts, deps.now());
  }

  server.post('/api/notifications', handler('change'));
  server.post('/api/lifecycle', handler('lifecycle'));
}
