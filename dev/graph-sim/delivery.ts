import {
  X509Certificate,
  createCipheriv,
  createHash,
  createHmac,
  publicEncrypt,
  randomBytes,
  constants,
} from 'node:crypto';
import { fetch, type Dispatcher } from 'undici';
import type { Identity } from './identity.js';
import type { SimSubscription } from './state.js';

/** One POST the simulator made to a notification or lifecycle URL. */
export interface DeliveryRecord {
  url: string;
  kind: 'change' | 'lifecycle';
  body: { value: Record<string, unknown>[]; validationTokens?: string[] };
  attempt: number;
  status: number | 'timeout' | 'error';
  ms: number;
  at: string;
}

export interface DeliveryOptions {
  identity: Identity;
  dispatcher: Dispatcher;
  nowMs: () => number;
  /** Items created within this window go out in one POST. */
  batchWindowMs?: number;
  /** Graph's budget: a response slower than this counts as failed and is retried. */
  responseTimeoutMs?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Graph stops retrying after 4 hours. */
  giveUpAfterMs?: number;
}

interface Pending {
  kind: 'change' | 'lifecycle';
  item: Record<string, unknown>;
  subscription: SimSubscription;
}

/** Encrypts resource data exactly as the Graph docs describe for rich notifications. */
export function encryptResource(
  resource: unknown,
  certificateBase64: string,
  certificateId: string,
) {
  const cert = new X509Certificate(Buffer.from(certificateBase64, 'base64'));
  const key = randomBytes(32);
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
  const data = Buffer.concat([cipher.update(JSON.stringify(resource), 'utf8'), cipher.final()]);
  return {
    data: data.toString('base64'),
    dataSignature: createHmac('sha256', key).update(data).digest('base64'),
    dataKey: publicEncrypt(
      { key: cert.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
      key,
    ).toString('base64'),
    encryptionCertificateId: certificateId,
    encryptionCertificateThumbprint: createHash('sha1')
      .update(cert.raw)
      .digest('hex')
      .toUpperCase(),
  };
}

/**
 * Sends change and lifecycle notifications: batches items per URL, adds validation tokens to
 * rich batches, and retries failures and slow answers with exponential backoff.
 */
export class Delivery {
  readonly log: DeliveryRecord[] = [];
  private readonly queues = new Map<string, Pending[]>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private dropNext = 0;
  private duplicateNext = 0;
  private closed = false;
  private inFlight = 0;

  constructor(private readonly options: DeliveryOptions) {}

  /** Fault injection: lose the next `n` items, or send the next `n` items twice. */
  setFaults(faults: { drop?: number; duplicate?: number }): void {
    this.dropNext = faults.drop ?? this.dropNext;
    this.duplicateNext = faults.duplicate ?? this.duplicateNext;
  }

  enqueue(
    kind: 'change' | 'lifecycle',
    subscription: SimSubscription,
    item: Record<string, unknown>,
  ): void {
    if (this.closed) return;
    if (kind === 'change' && this.dropNext > 0) {
      this.dropNext--;
      return;
    }
    const url =
      kind === 'change' ? subscription.notificationUrl : subscription.lifecycleNotificationUrl!;
    const queue = this.queues.get(url) ?? [];
    queue.push({ kind, item, subscription });
    if (kind === 'change' && this.duplicateNext > 0) {
      this.duplicateNext--;
      queue.push({ kind, item, subscription });
    }
    if (!this.queues.has(url)) {
      this.queues.set(url, queue);
      this.later(() => {
        this.flush(url).catch((err: unknown) => {
          // A bug in the simulator must be loud, never a silently lost notification.
          process.stderr.write(
            `graph-sim: delivery to ${url} failed: ${(err as Error).stack ?? String(err)}\n`,
          );
        });
      }, this.options.batchWindowMs ?? 100);
    }
  }

  /** True while anything is queued, being sent or waiting to be retried. */
  get busy(): boolean {
    return this.queues.size > 0 || this.inFlight > 0 || this.timers.size > 0;
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.queues.clear();
  }

  private later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private async flush(url: string): Promise<void> {
    // Counted as in flight from here, so `busy` never reads false while tokens are signed.
    this.inFlight++;
    try {
      await this.flushBatch(url);
    } finally {
      this.inFlight--;
    }
  }

  private async flushBatch(url: string): Promise<void> {
    const batch = this.queues.get(url) ?? [];
    this.queues.delete(url);
    if (batch.length === 0) return;
    const body: DeliveryRecord['body'] = { value: batch.map((p) => p.item) };
    const rich = batch.filter((p) => p.kind === 'change' && p.subscription.includeResourceData);
    if (rich.length) {
      const pairs = new Map(
        rich.map((p) => [`${p.subscription.appId}|${p.subscription.tenantId}`, p.subscription]),
      );
      body.validationTokens = await Promise.all(
        [...pairs.values()].map((s) =>
          this.options.identity.validationToken(s.tenantId, s.appId, this.options.nowMs()),
        ),
      );
    }
    await this.send(url, batch[0]!.kind, body, 1, this.options.nowMs());
  }

  private async send(
    url: string,
    kind: 'change' | 'lifecycle',
    body: DeliveryRecord['body'],
    attempt: number,
    firstAt: number,
  ): Promise<void> {
    if (this.closed) return;
    const started = Date.now();
    let status: DeliveryRecord['status'];
    this.inFlight++;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify(body),
        dispatcher: this.options.dispatcher,
        signal: AbortSignal.timeout(this.options.responseTimeoutMs ?? 3000),
      });
      await res.arrayBuffer();
      status = res.status;
    } catch (err) {
      status = (err as Error).name === 'TimeoutError' ? 'timeout' : 'error';
    } finally {
      this.inFlight--;
    }
    this.log.push({
      url,
      kind,
      body,
      attempt,
      status,
      ms: Date.now() - started,
      at: new Date(this.options.nowMs()).toISOString(),
    });
    const ok = typeof status === 'number' && status >= 200 && status < 300;
    if (ok || this.closed) return;
    if (this.options.nowMs() - firstAt >= (this.options.giveUpAfterMs ?? 4 * 3600_000)) return;
    const delay = Math.min(
      (this.options.retryBaseMs ?? 1000) * 2 ** (attempt - 1),
      this.options.retryMaxMs ?? 60_000,
    );
    this.later(() => void this.send(url, kind, body, attempt + 1, firstAt), delay);
  }
}
