import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Request, Response, Server } from 'restify';
import { z } from 'zod';
import { ForbiddenError, NotFoundError, ValidationError } from '../errors/index.js';
import type { GraphApi } from '../graph/index.js';
import type { Logger } from '../logging/index.js';
import { sendError } from '../server/index.js';
import type { Store } from '../store/index.js';

/** Who a link was made for, and until when it works. */
export interface LinkClaims {
  /** Recording id. */
  r: string;
  /** The user's Entra object id. */
  u: string;
  /** The user's display name, for the audit. */
  n?: string;
  /** Expiry, epoch seconds. */
  e: number;
  /** `p` for the tab's player (inline; plays count as views); absent for a download. */
  p?: 'p';
  /** A play link's nonce: one opened player, so one view however often it reads from 0. */
  j?: string;
}

/** What a link is for: a download counts as one, a play as a view. */
export type LinkPurpose = 'download' | 'play';

/** A player seeks for as long as a class lasts; its link must outlive a long lecture. */
export const PLAY_LINK_TTL_SECONDS = 4 * 3600;

const claimsSchema = z.object({
  r: z.string().min(1).max(512),
  u: z.string().min(1).max(64),
  n: z.string().max(256).optional(),
  e: z.number().int().positive(),
  p: z.literal('p').optional(),
  j: z.string().max(64).optional(),
});

/**
 * Short-lived download links, signed with HMAC-SHA256 and bound to one user and one recording.
 * No state: the signature and the expiry are the whole check, in constant time.
 */
export class DownloadLinks {
  private readonly key: Buffer;

  constructor(
    key: string | undefined,
    private readonly ttlSeconds: number,
    private readonly now: () => Date,
  ) {
    // Without a configured key, links work on this instance only (each process makes its own).
    this.key = key ? Buffer.from(key, 'utf8') : randomBytes(32);
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }

  /** A token for `/api/downloads?link={token}`. */
  mint(
    recordingId: string,
    user: { id: string; name?: string },
    purpose: LinkPurpose = 'download',
  ): { token: string; expiresAt: Date } {
    const ttl =
      purpose === 'play' ? Math.max(this.ttlSeconds, PLAY_LINK_TTL_SECONDS) : this.ttlSeconds;
    const e = Math.floor(this.now().getTime() / 1000) + ttl;
    const claims: LinkClaims = {
      r: recordingId,
      u: user.id,
      e,
      ...(user.name ? { n: user.name.slice(0, 256) } : {}),
      ...(purpose === 'play' ? { p: 'p' as const, j: randomBytes(9).toString('base64url') } : {}),
    };
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    // '~' joins the parts: unreserved in URLs and absent from base64url (restify's router treats
    // '.' in a path segment specially).
    return { token: `${body}~${this.sign(body)}`, expiresAt: new Date(e * 1000) };
  }

  /** The link's claims; ForbiddenError when it is forged, altered or expired. */
  verify(token: string): LinkClaims {
    const [body, sig, extra] = token.split('~');
    if (!body || !sig || extra !== undefined || token.length > 2048)
      throw new ForbiddenError('This download link is not valid. Ask the bot for a new one.');
    const expected = Buffer.from(this.sign(body));
    const given = Buffer.from(sig);
    if (expected.length !== given.length || !timingSafeEqual(expected, given))
      throw new ForbiddenError('This download link is not valid. Ask the bot for a new one.');
    let claims: LinkClaims;
    try {
      claims = claimsSchema.parse(JSON.parse(Buffer.from(body, 'base64url').toString('utf8')));
    } catch {
      throw new ForbiddenError('This download link is not valid. Ask the bot for a new one.');
    }
    if (claims.e * 1000 <= this.now().getTime())
      throw new ForbiddenError(
        'This download link has expired. Press Download on the recording card again for a new one.',
      );
    return claims;
  }
}

/** The path a link opens, relative to the app's public base URL. */
export function downloadPath(token: string): string {
  return `/api/downloads?link=${encodeURIComponent(token)}`;
}

/** A filename safe in Content-Disposition, plus its UTF-8 form (RFC 6266 / 5987). */
export function contentDisposition(
  title: string,
  extension = 'mp4',
  type: 'attachment' | 'inline' = 'attachment',
): string {
  const base =
    title
      .replace(/[\\/:*?"<>|\r\n]+/g, ' ')
      .trim()
      .slice(0, 150) || 'recording';
  const ascii = base.replace(/[^\x20-\x7e]/g, '_');
  return `${type}; filename="${ascii}.${extension}"; filename*=UTF-8''${encodeURIComponent(`${base}.${extension}`)}`;
}

const RANGE = /^bytes=(\d*)-(\d*)$/;

export interface DownloadDeps {
  store: Store;
  graph: GraphApi;
  logger: Logger;
  links: DownloadLinks;
  now: () => Date;
}

/** Where a single bytes range starts; undefined without a Range header. */
function rangeStart(range: string | undefined): number | 'suffix' | undefined {
  if (range === undefined) return undefined;
  const m = RANGE.exec(range)!;
  return m[1] === '' ? 'suffix' : Number(m[1]);
}

/**
 * The one streaming path for recordings (the card's Download, the tab's Play and Download):
 * Graph's bytes go to the client with backpressure, never buffered; Range passes through so
 * players seek; 416 comes back with Graph's `Content-Range`. A completed full download counts
 * once (`downloadCount`, `lastDownloadedAt`) and is audited with who, when and how many bytes;
 * an aborted one is audited as aborted. A play link counts one view, the first time its player
 * reads from byte 0; its seeks, re-reads and abandoned reads are neither views nor downloads.
 */
export async function streamRecording(
  req: Request,
  res: Response,
  deps: DownloadDeps,
  link: LinkClaims,
): Promise<void> {
  const log = deps.logger.child({ component: 'downloads' });
  const recording = await deps.store.recordings.get(link.r);
  if (!recording) throw new NotFoundError('That recording is no longer available.');
  const range = req.header('range');
  if (range !== undefined && !RANGE.test(range))
    throw new ValidationError('The Range header is not a single bytes range.');
  const purpose: LinkPurpose = link.p === 'p' ? 'play' : 'download';
  const content = await deps.graph.getRecordingContent(
    recording.organizerId,
    recording.onlineMeetingId,
    recording._id,
    range,
  );
  const common = {
    'accept-ranges': 'bytes',
    'cache-control': 'private, no-store',
    'x-content-type-options': 'nosniff',
  };
  if (content.status === 416) {
    res.writeHead(416, {
      ...common,
      ...(content.contentRange ? { 'content-range': content.contentRange } : {}),
      'content-length': 0,
    });
    res.end();
    return;
  }
  const headers: Record<string, string | number> = {
    ...common,
    'content-type': content.contentType,
    'content-disposition': contentDisposition(
      recording.title,
      'mp4',
      purpose === 'play' ? 'inline' : 'attachment',
    ),
  };
  if (content.contentLength !== undefined) headers['content-length'] = content.contentLength;
  if (content.contentRange) headers['content-range'] = content.contentRange;
  const who = { id: link.u, name: link.n };
  const audit = (action: string, details: Record<string, unknown>) =>
    deps.store.audit.append({
      at: deps.now(),
      action,
      actor: who,
      meetingId: recording.meetingId,
      recordingId: recording._id,
      details,
    });
  if (
    purpose === 'play' &&
    (rangeStart(range) ?? 0) === 0 &&
    (await deps.store.views.first(link.j ?? `${link.u}:${link.e}`, recording._id, deps.now()))
  ) {
    await deps.store.recordings.recordView(recording._id, deps.now());
    await audit('recording.view', { range: range ?? null });
  }
  res.writeHead(content.status, headers);
  let bytes = 0;
  content.stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
  try {
    await pipeline(content.stream, res);
  } catch (err) {
    if (purpose === 'play') {
      // Players abandon reads whenever the viewer seeks: routine, not an aborted download.
      log.debug({ recordingId: recording._id, bytes }, 'player read ended early');
      return;
    }
    log.info({ recordingId: recording._id, bytes, err }, 'download aborted');
    await audit('recording.download.aborted', { bytes, range: range ?? null });
    return;
  }
  if (purpose === 'play') return;
  const full = content.status === 200;
  if (full) await deps.store.recordings.recordDownload(recording._id, deps.now());
  await audit(full ? 'recording.download' : 'recording.download.range', {
    bytes,
    range: range ?? null,
  });
}

/**
 * `GET /api/downloads?link={token}` (in the query, which the request log leaves out): the
 * signed, short-lived link is the whole credential, so it works where no header can be set
 * (a browser download, an HTML5 video element).
 */
export function registerDownloadRoutes(server: Server, deps: DownloadDeps): void {
  server.get('/api/downloads', async (req: Request, res: Response) => {
    try {
      const link = new URL(req.url ?? '/', 'http://x').searchParams.get('link') ?? '';
      await streamRecording(req, res, deps, deps.links.verify(link));
    } catch (err) {
      if (!res.headersSent) sendError(res, err, req.requestId);
      else res.destroy();
    }
  });
}
