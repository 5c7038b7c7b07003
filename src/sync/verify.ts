import {
  X509Certificate,
  constants,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  privateDecrypt,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import fs from 'node:fs';
import { decodeJwt, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Dispatcher } from 'undici';
import { entraSigningKeys } from '../auth/index.js';
import { z } from 'zod';
import type { SubscriptionRecord } from '../store/index.js';

/** The app id Graph signs change-notification validation tokens as (from the Graph docs). */
export const NOTIFICATION_PUBLISHER_APP_ID = '0bf30f3b-4a52-48df-9a82-234910c4a086';

/** SHA-256 of a clientState: the only form in which the secret is stored. */
export function hashClientState(clientState: string): string {
  return createHash('sha256').update(clientState, 'utf8').digest('hex');
}

/** Constant-time check of a presented clientState against the stored hash. */
export function clientStateMatches(presented: unknown, storedHash: string): boolean {
  if (typeof presented !== 'string' || presented.length === 0) return false;
  const a = Buffer.from(hashClientState(presented), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

const guid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
const b64 = z
  .string()
  .min(1)
  .max(4 * 1024 * 1024)
  .regex(/^[A-Za-z0-9+/=]+$/);

const encryptedContentSchema = z.object({
  data: b64,
  dataKey: b64,
  dataSignature: b64,
  encryptionCertificateId: z.string().min(1).max(256),
  encryptionCertificateThumbprint: z.string().max(128).optional(),
});

/** One item of a change notification POST, as Graph sends it for recordings and transcripts. */
const changeItemSchema = z.object({
  subscriptionId: z.string().min(1).max(128),
  subscriptionExpirationDateTime: z.string().max(64).optional(),
  changeType: z.string().min(1).max(64),
  clientState: z.string().max(255).nullable().optional(),
  resource: z.string().min(1).max(2048),
  resourceData: z
    .object({ id: z.string().max(512).optional(), '@odata.type': z.string().max(256).optional() })
    .passthrough()
    .nullable()
    .optional(),
  tenantId: guid,
  encryptedContent: encryptedContentSchema.optional(),
});

const lifecycleItemSchema = z.object({
  subscriptionId: z.string().min(1).max(128),
  subscriptionExpirationDateTime: z.string().max(64).optional(),
  lifecycleEvent: z.enum(['reauthorizationRequired', 'subscriptionRemoved', 'missed']),
  clientState: z.string().max(255).nullable().optional(),
  tenantId: guid,
});

/** The POST body: `value` (1 to 1000 items) and, for rich notifications, `validationTokens`. */
export const notificationBodySchema = z.object({
  value: z.array(z.unknown()).min(1).max(1000),
  validationTokens: z.array(z.string().max(16_384)).max(100).optional(),
});

/** The decrypted resource of a rich recording/transcript notification: the fields we use. */
const resourceSchema = z
  .object({
    id: z.string().min(1).max(512),
    meetingId: z.string().min(1).max(1024),
    createdDateTime: z.string().max(64).optional(),
    endDateTime: z.string().max(64).nullable().optional(),
    meetingOrganizer: z
      .object({ user: z.object({ id: z.string().max(64).nullable().optional() }).passthrough() })
      .passthrough()
      .nullable()
      .optional(),
  })
  .passthrough();

const RESOURCE =
  /^communications\/onlineMeetings\('([^']{1,1024})'\)\/(recordings|transcripts)\('([^']{1,512})'\)$/i;

export type ArtifactKind = 'recording' | 'transcript';

/** A change notification that passed every check, ready for the inbox. */
export interface VerifiedChange {
  kind: 'change';
  subscriptionId: string;
  tenantId: string;
  artifact: ArtifactKind;
  onlineMeetingId: string;
  artifactId: string;
  /** Known from a per-organizer subscription, or from the decrypted resource. */
  organizerId?: string;
  /** Present for rich notifications, after the signature check and decryption. */
  resource?: Record<string, unknown>;
}

export interface VerifiedLifecycle {
  kind: 'lifecycle';
  subscriptionId: string;
  tenantId: string;
  lifecycleEvent: 'reauthorizationRequired' | 'subscriptionRemoved' | 'missed';
  subscriptionExpirationDateTime?: string;
}

export interface Rejection {
  index: number;
  reason: string;
}

/**
 * Keys are matched whatever their case: Graph's own samples for recording notifications spell
 * `EncryptedContent` with a capital letter, the reference pages `encryptedContent`.
 */
function normalizeKeys(item: unknown): unknown {
  if (!item || typeof item !== 'object' || Array.isArray(item)) return item;
  const known = [
    'subscriptionId',
    'subscriptionExpirationDateTime',
    'changeType',
    'clientState',
    'resource',
    'resourceData',
    'tenantId',
    'encryptedContent',
    'lifecycleEvent',
  ];
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(item)) {
    const name = known.find((n) => n.toLowerCase() === k.toLowerCase()) ?? k;
    if (name in out) continue; // the first spelling wins; a second one is not trusted
    out[name] =
      name === 'encryptedContent' && v && typeof v === 'object'
        ? Object.fromEntries(
            Object.entries(v).map(([ek, ev]) => [
              [
                'data',
                'dataKey',
                'dataSignature',
                'encryptionCertificateId',
                'encryptionCertificateThumbprint',
              ].find((n) => n.toLowerCase() === ek.toLowerCase()) ?? ek,
              ev,
            ]),
          )
        : v;
  }
  return out;
}

/** A certificate Graph encrypts rich notifications for, and the private key to read them. */
export interface DecryptionKey {
  /** What the app sends as encryptionCertificateId. */
  id: string;
  /** Base64 DER, as Graph wants it in encryptionCertificate. */
  certificateBase64: string;
  privateKey: KeyObject;
}

/** Reads a PEM file holding a certificate and its private key. */
export function loadDecryptionKey(file: string): DecryptionKey {
  const pem = fs.readFileSync(file, 'utf8');
  const certPem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  const keyPem =
    /-----BEGIN (?:RSA )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA )?PRIVATE KEY-----/.exec(pem)?.[0];
  if (!certPem || !keyPem)
    throw new Error(`${file} must hold a certificate and its private key (PEM).`);
  const cert = new X509Certificate(certPem);
  return {
    id: `classroom-recorder-${cert.fingerprint.replace(/:/g, '').slice(0, 16).toLowerCase()}`,
    certificateBase64: cert.raw.toString('base64'),
    privateKey: createPrivateKey(keyPem),
  };
}

/**
 * Checks and decrypts `encryptedContent` as the Graph docs describe: RSA-OAEP unwraps the
 * symmetric key, the HMAC-SHA256 of the data must equal `dataSignature` (checked in constant time,
 * before anything is decrypted), then AES-CBC with the key's first 16 bytes as IV.
 */
export function decryptContent(
  content: z.infer<typeof encryptedContentSchema>,
  key: DecryptionKey,
): unknown {
  const symmetric = privateDecrypt(
    { key: key.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
    Buffer.from(content.dataKey, 'base64'),
  );
  const data = Buffer.from(content.data, 'base64');
  const expected = createHmac('sha256', symmetric).update(data).digest();
  const given = Buffer.from(content.dataSignature, 'base64');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    throw new Error('dataSignature does not match the data');
  if (symmetric.length !== 32) throw new Error('unexpected symmetric key length');
  const decipher = createDecipheriv('aes-256-cbc', symmetric, symmetric.subarray(0, 16));
  return JSON.parse(Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8'));
}

export interface VerifierOptions {
  /** Our Entra app: the audience of validation tokens. */
  appId: string;
  /** Our tenant: notifications for any other are refused. */
  tenantId: string;
  /** Where the token signing keys are published (Entra's authority host). */
  authorityHost: string;
  dispatcher?: Dispatcher;
  decryptionKey?: DecryptionKey;
  subscriptions: { getMany(ids: string[]): Promise<SubscriptionRecord[]> };
  now: () => Date;
}

/**
 * Checks every item of a change or lifecycle notification POST. Nothing here calls Graph: a
 * forged item is refused on what it carries and what the store knows.
 */
export class NotificationVerifier {
  private readonly jwks: JWTVerifyGetKey;

  constructor(private readonly options: VerifierOptions) {
    this.jwks = entraSigningKeys(
      `${options.authorityHost}/common/discovery/keys`,
      options.dispatcher,
    );
  }

  /** The tenants for which every validation token in the batch is valid, or why not. */
  private async validTokenTenants(tokens: string[]): Promise<Set<string> | string> {
    const tenants = new Set<string>();
    for (const token of tokens) {
      let tid: unknown;
      try {
        tid = decodeJwt(token).tid;
      } catch {
        return 'a validation token is not a JWT';
      }
      if (typeof tid !== 'string' || tid.toLowerCase() !== this.options.tenantId.toLowerCase())
        return 'a validation token is for another tenant';
      try {
        const { payload } = await jwtVerify(token, this.jwks, {
          audience: this.options.appId,
          issuer: `https://sts.windows.net/${tid}/`,
          currentDate: this.options.now(),
          clockTolerance: 300,
          algorithms: ['RS256'],
        });
        if (
          payload.appid !== NOTIFICATION_PUBLISHER_APP_ID &&
          payload.azp !== NOTIFICATION_PUBLISHER_APP_ID
        )
          return 'a validation token was not issued to Microsoft Graph change notifications';
      } catch (err) {
        return `a validation token failed verification (${(err as { code?: string }).code ?? (err as Error).message})`;
      }
      tenants.add(tid.toLowerCase());
    }
    return tenants;
  }

  /**
   * The checks every item gets, change or lifecycle: its schema, a subscription of ours, the
   * subscription's clientState (constant time) and tenant. Passing items come back with their
   * subscription; the subscriptions are read in one query.
   */
  private async checkItems<
    S extends z.ZodType<{ subscriptionId: string; tenantId: string; clientState?: string | null }>,
  >(
    schema: S,
    body: z.infer<typeof notificationBodySchema>,
  ): Promise<{
    passed: { index: number; item: z.output<S>; sub: SubscriptionRecord }[];
    rejected: Rejection[];
  }> {
    const parsed = body.value.map((raw) => schema.safeParse(normalizeKeys(raw)));
    const ids = [...new Set(parsed.flatMap((p) => (p.success ? [p.data.subscriptionId] : [])))];
    const subs = new Map(
      (ids.length ? await this.options.subscriptions.getMany(ids) : []).map((s) => [s._id, s]),
    );
    const passed: { index: number; item: z.output<S>; sub: SubscriptionRecord }[] = [];
    const rejected: Rejection[] = [];
    parsed.forEach((p, index) => {
      const reject = (reason: string) => rejected.push({ index, reason });
      if (!p.success) {
        const issue = p.error.issues[0]!;
        return reject(`schema: ${issue.path.join('.') || 'item'} ${issue.message}`);
      }
      const item = p.data;
      const sub = subs.get(item.subscriptionId);
      if (!sub) return reject('unknown subscription');
      if (!clientStateMatches(item.clientState, sub.clientStateHash))
        return reject('clientState does not match');
      if (item.tenantId.toLowerCase() !== sub.tenantId.toLowerCase())
        return reject('tenant does not match the subscription');
      passed.push({ index, item, sub });
    });
    return { passed, rejected };
  }

  async verifyChanges(
    body: z.infer<typeof notificationBodySchema>,
  ): Promise<{ accepted: VerifiedChange[]; rejected: Rejection[] }> {
    const accepted: VerifiedChange[] = [];
    const { passed, rejected } = await this.checkItems(changeItemSchema, body);
    const rich = passed.some((p) => p.item.encryptedContent);
    const tokenTenants = rich
      ? body.validationTokens?.length
        ? await this.validTokenTenants(body.validationTokens)
        : 'rich notifications came without validationTokens'
      : new Set<string>();

    for (const { index, item, sub } of passed) {
      const reject = (reason: string) => rejected.push({ index, reason });
      if (item.tenantId.toLowerCase() !== this.options.tenantId.toLowerCase()) {
        reject('tenant does not match the subscription');
        continue;
      }
      if (item.changeType !== 'created') {
        reject(`changeType ${item.changeType} is not handled`);
        continue;
      }
      const change = this.change(item, sub, tokenTenants);
      if (typeof change === 'string') reject(change);
      else accepted.push(change);
    }
    // Reasons in item order, as they are logged.
    rejected.sort((a, b) => a.index - b.index);
    return { accepted, rejected };
  }

  /** A change item that passed the common checks: its resource, and rich content if any. */
  private change(
    item: z.output<typeof changeItemSchema>,
    sub: SubscriptionRecord,
    tokenTenants: Set<string> | string,
  ): VerifiedChange | string {
    const m = RESOURCE.exec(item.resource);
    if (!m) return 'resource is not a meeting recording or transcript';
    const artifact: ArtifactKind =
      m[2]!.toLowerCase() === 'recordings' ? 'recording' : 'transcript';
    const expected = sub.resource.toLowerCase().endsWith('getalltranscripts')
      ? 'transcript'
      : 'recording';
    if (artifact !== expected) return 'resource does not match the subscription';
    const change: VerifiedChange = {
      kind: 'change',
      subscriptionId: sub._id,
      tenantId: item.tenantId.toLowerCase(),
      artifact,
      onlineMeetingId: m[1]!,
      artifactId: m[3]!,
      organizerId: sub.organizerId,
    };
    if (!item.encryptedContent) return change;
    if (typeof tokenTenants === 'string') return tokenTenants;
    if (!tokenTenants.has(change.tenantId)) return 'no valid validation token for the tenant';
    const key = this.options.decryptionKey;
    if (!key || key.id !== item.encryptedContent.encryptionCertificateId)
      return 'encrypted with a certificate this app does not hold';
    let resource: z.infer<typeof resourceSchema>;
    try {
      resource = resourceSchema.parse(decryptContent(item.encryptedContent, key));
    } catch (err) {
      return `encryptedContent: ${(err as Error).message.slice(0, 120)}`;
    }
    if (resource.id !== change.artifactId || resource.meetingId !== change.onlineMeetingId)
      return 'encryptedContent does not describe the notified resource';
    change.resource = resource;
    change.organizerId ??= resource.meetingOrganizer?.user.id ?? undefined;
    return change;
  }

  async verifyLifecycle(
    body: z.infer<typeof notificationBodySchema>,
  ): Promise<{ accepted: VerifiedLifecycle[]; rejected: Rejection[] }> {
    const { passed, rejected } = await this.checkItems(lifecycleItemSchema, body);
    const accepted = passed.map(({ item, sub }): VerifiedLifecycle => ({
      kind: 'lifecycle',
      subscriptionId: sub._id,
      tenantId: item.tenantId.toLowerCase(),
      lifecycleEvent: item.lifecycleEvent,
      subscriptionExpirationDateTime: item.subscriptionExpirationDateTime,
    }));
    return { accepted, rejected };
  }
}
