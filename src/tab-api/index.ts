import type { Request, Response, Server } from 'restify';
import { fetch as undiciFetch, type Dispatcher } from 'undici';
import { z } from 'zod';
import { SsoVerifier } from '../auth/index.js';
import type { Config } from '../config/index.js';
import { downloadPath, type DownloadLinks } from '../downloads/index.js';
import { AppError, ErrorCode, NotFoundError, ValidationError } from '../errors/index.js';
import { createDispatcher, type GraphApi } from '../graph/index.js';
import { Roles } from '../meetings/index.js';
import { readJsonBody, sendError, type RouteRegistrar } from '../server/index.js';
import type { Meeting, RecordingRecord, Store } from '../store/index.js';
import { searchPattern } from '../transcripts/index.js';
import { ClassAccess, type ClassGrant, type ClassRole } from './access.js';
import { registerStaticTab } from './static.js';

export { ClassAccess, type ClassGrant, type ClassRole } from './access.js';
export { TAB_CSP } from './static.js';

export interface TabOptions {
  /** Shared with the bot and the download route: the tab's Play and Download links. */
  links: DownloadLinks;
  now?: () => Date;
}

const channelId = z
  .string()
  .min(3)
  .max(256)
  .regex(/^[^\s]+$/, { message: 'must be a Teams channel id' });
const recordingId = z.string().min(1).max(512);
const cursorSchema = z.object({ at: z.iso.datetime(), id: z.string().min(1).max(512) });

const listQuery = z.object({
  channelId,
  q: z.string().trim().max(100).optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  cursor: z.string().max(1024).optional(),
  limit: z.coerce.number().int().min(1).max(50).default(20),
});

/** The query string as a schema sees it; the first problem becomes a 400 naming the parameter. */
function query<S extends z.ZodType>(req: Request, schema: S): z.output<S> {
  const params = Object.fromEntries(new URL(req.url ?? '/', 'http://x').searchParams);
  const parsed = schema.safeParse(params);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new ValidationError(`Query parameter ${issue.path.join('.') || '?'}: ${issue.message}.`);
}

function decodeCursor(cursor: string | undefined): { at: Date; id: string } | undefined {
  if (!cursor) return undefined;
  try {
    const c = cursorSchema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    return { at: new Date(c.at), id: c.id };
  } catch {
    throw new ValidationError('Query parameter cursor: is not a cursor this API returned.');
  }
}

function encodeCursor(c: { at: Date; id: string }): string {
  return Buffer.from(JSON.stringify({ at: c.at.toISOString(), id: c.id })).toString('base64url');
}

const isStaff = (role: ClassRole) => role !== 'learner';

/** A recording as the tab lists it; staff also get its counters and card state. */
function recordingRow(r: RecordingRecord, role: ClassRole, meeting: Meeting | undefined) {
  // Graph's recording times when they span something; otherwise the class's scheduled length
  // (as on the recording card).
  const ms =
    r.endDateTime && r.endDateTime > r.createdDateTime
      ? r.endDateTime.getTime() - r.createdDateTime.getTime()
      : meeting && meeting.endDateTime.getTime() - meeting.startDateTime.getTime();
  const seconds = ms === undefined ? undefined : Math.round(ms / 1000);
  return {
    id: r._id,
    title: r.title,
    recordedAt: r.createdDateTime.toISOString(),
    durationSeconds: seconds,
    hasTranscript: r.transcriptIds.length > 0,
    ...(isStaff(role)
      ? {
          stats: {
            downloads: r.downloadCount,
            lastDownloadedAt: r.lastDownloadedAt?.toISOString(),
            views: r.viewCount ?? 0,
            lastViewedAt: r.lastViewedAt?.toISOString(),
            card: r.card.state,
          },
        }
      : {}),
  };
}

function meetingRow(m: Meeting) {
  return {
    title: m.title,
    start: m.startDateTime.toISOString(),
    end: m.endDateTime.toISOString(),
    recordingStatus: m.cancelledAt ? 'cancelled' : m.recordingStatus,
    failureReason: m.failureReason,
  };
}

/** Answers JSON, uncached; errors become our JSON error shape (401s name the scheme). */
function handle(fn: (req: Request) => Promise<unknown>) {
  return async (req: Request, res: Response) => {
    try {
      const body = await fn(req);
      res.header('cache-control', 'no-store');
      res.json(200, body);
    } catch (err) {
      if (err instanceof AppError && err.code === ErrorCode.Unauthorized)
        res.header('www-authenticate', 'Bearer error="invalid_token"');
      sendError(res, err, req.requestId);
    }
  };
}

/**
 * The channel tab: its static files under `/tab/`, and its API under `/api/tab/`. Every API call
 * carries the Teams SSO token as a Bearer token and is answered only for members of the class
 * team; Play and Download hand out signed links to the one streaming path in src/downloads.
 */
export function tabRoutes(config: Config, options: TabOptions): RouteRegistrar {
  return (server, { store, logger, graph }) => {
    registerStaticTab(server, config.tab.staticDir, logger);
    const log = logger.child({ component: 'tab' });
    if (!graph || !config.graph || !config.tab.applicationIdUri) {
      log.warn('the tab API is off: it needs the Entra app (SSO) and Microsoft Graph');
      return;
    }
    const now = options.now ?? (() => new Date());
    const dispatcher = createDispatcher(config.graph.caFile);
    const access = new ClassAccess({
      verifier: new SsoVerifier({
        clientId: config.graph.clientId,
        applicationIdUri: config.tab.applicationIdUri,
        tenantId: config.graph.tenantId,
        authorityHost: config.graph.authorityHost,
        dispatcher,
        now,
      }),
      store,
      roles: new Roles({
        graph,
        instructorGroupId: config.instructorGroupId,
        adminGroupId: config.adminGroupId,
      }),
    });
    registerApi(server, { store, access, links: options.links, now });
    if (config.tab.localSignIn) {
      registerLocalSignIn(server, {
        store,
        graph,
        tokenUrl: `${config.graph.authorityHost}/_sim/sso-token`,
        clientId: config.graph.clientId,
        dispatcher,
      });
      log.warn('local sign-in is on: the tab offers the simulated tenant’s demo users');
    }
    return {
      start() {},
      stop: () => dispatcher.close(),
    };
  };
}

function registerApi(
  server: Server,
  deps: { store: Store; access: ClassAccess; links: DownloadLinks; now: () => Date },
): void {
  const { store, access, links } = deps;
  const authed = async (req: Request) => access.authenticate(req.header('authorization'));

  server.get(
    '/api/tab/context',
    handle(async (req) => {
      const user = await authed(req);
      const q = query(req, z.object({ channelId }));
      const grant = await access.forChannel(user, q.channelId);
      const meetings = await store.meetings.listByClass(q.channelId, 50);
      const upcoming = meetings
        .filter((m) => !m.cancelledAt && m.endDateTime.getTime() > deps.now().getTime())
        .sort((a, b) => a.startDateTime.getTime() - b.startDateTime.getTime());
      return {
        user: { id: user.id, name: user.name },
        role: grant.role,
        class: classInfo(grant),
        nextMeeting: upcoming[0] ? meetingRow(upcoming[0]) : undefined,
        ...(isStaff(grant.role) ? { meetings: meetings.slice(0, 10).map(meetingRow) } : {}),
      };
    }),
  );

  server.get(
    '/api/tab/recordings',
    handle(async (req) => {
      const user = await authed(req);
      const q = query(req, listQuery);
      const grant = await access.forChannel(user, q.channelId);
      let text: { title: RegExp; meetingIds: string[] } | undefined;
      if (q.q) {
        const pattern = searchPattern(q.q);
        text = {
          title: pattern,
          meetingIds: await store.transcripts.meetingsMatching(q.channelId, pattern),
        };
      }
      const page = await store.recordings.search({
        conversationId: q.channelId,
        limit: q.limit,
        before: decodeCursor(q.cursor),
        text,
        from: q.from ? new Date(q.from) : undefined,
        to: q.to ? new Date(q.to) : undefined,
      });
      const meetings = new Map(
        (await store.meetings.getMany([...new Set(page.items.map((r) => r.meetingId))])).map(
          (m) => [m._id, m],
        ),
      );
      return {
        items: page.items.map((r) => recordingRow(r, grant.role, meetings.get(r.meetingId))),
        next: page.next ? encodeCursor(page.next) : undefined,
      };
    }),
  );

  server.get(
    '/api/tab/transcript',
    handle(async (req) => {
      const user = await authed(req);
      const q = query(req, z.object({ recordingId }));
      const { recording } = await access.forRecording(user, q.recordingId);
      const transcripts = await store.transcripts.listByMeeting(recording.meetingId);
      if (!transcripts.length) throw new NotFoundError('This recording has no transcript yet.');
      return {
        recordingId: recording._id,
        title: recording.title,
        cues: transcripts.flatMap((t) => t.cues),
      };
    }),
  );

  server.post(
    '/api/tab/links',
    handle(async (req) => {
      const user = await authed(req);
      const q = query(req, z.object({ recordingId }));
      const { recording } = await access.forRecording(user, q.recordingId);
      const who = { id: user.id, name: user.name };
      const play = links.mint(recording._id, who, 'play');
      const download = links.mint(recording._id, who, 'download');
      return {
        playUrl: downloadPath(play.token),
        downloadUrl: downloadPath(download.token),
        playExpiresAt: play.expiresAt.toISOString(),
        downloadExpiresAt: download.expiresAt.toISOString(),
      };
    }),
  );
}

function classInfo(grant: ClassGrant) {
  return {
    channelId: grant.conversation._id,
    channelName: grant.conversation.channelName ?? grant.conversation.name,
    teamName: grant.conversation.teamName,
  };
}

/**
 * Local mode only (TAB_LOCAL_SIGN_IN, refused unless Entra is the simulator): a plain browser
 * has no Teams client to get an SSO token from, so the tab's marked sign-in page picks a demo
 * user and the simulator issues the same token Teams would. Everything after it is the same
 * code path as in Teams.
 */
function registerLocalSignIn(
  server: Server,
  deps: {
    store: Store;
    graph: GraphApi;
    tokenUrl: string;
    clientId: string;
    /** Trusts the simulator's CA. */
    dispatcher: Dispatcher;
  },
): void {
  server.get(
    '/api/tab/local/classes',
    handle(async () => {
      const channels = await deps.store.conversations.listChannels(100);
      return channels
        .filter((c) => c.teamAadGroupId)
        .map((c) => ({
          channelId: c._id,
          channelName: c.channelName ?? c.name,
          teamName: c.teamName,
        }));
    }),
  );
  server.get(
    '/api/tab/local/users',
    handle(async (req) => {
      const q = query(req, z.object({ channelId }));
      const c = await deps.store.conversations.get(q.channelId);
      if (!c?.teamAadGroupId) throw new NotFoundError('No such class.');
      const members = await deps.graph.listTeamMembers(c.teamAadGroupId);
      return members.map((m) => ({
        id: m.userId,
        name: m.displayName ?? m.userId,
        owner: m.roles.includes('owner'),
      }));
    }),
  );
  server.post(
    '/api/tab/local/sign-in',
    handle(async (req) => {
      const body = z
        .object({ userId: z.string().min(1).max(64) })
        .safeParse(readJsonBody(req, 'The sign-in'));
      if (!body.success) throw new ValidationError('Pick a demo user (userId).');
      const res = await undiciFetch(deps.tokenUrl, {
        dispatcher: deps.dispatcher,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ userId: body.data.userId, clientId: deps.clientId }),
      });
      if (res.status === 404) throw new NotFoundError('No such demo user.');
      if (res.status !== 200)
        throw new AppError(ErrorCode.Internal, `the simulator answered ${res.status}`);
      const { token } = z.object({ token: z.string() }).parse(await res.json());
      return { token, localMode: true };
    }),
  );
}
