import { X509Certificate, randomUUID } from 'node:crypto';
import { fetch, type Dispatcher } from 'undici';
import type { SimClock } from './clock.js';
import { parseRange, recordingStream, transcriptVtt } from './content.js';
import { encryptResource, type Delivery } from './delivery.js';
import { GraphHttpError, sendJson, type Ctx, type Router, reply } from './http.js';
import type { AppTokenClaims, Identity } from './identity.js';
import {
  artifactJson,
  meetingJson,
  type ArtifactKind,
  type SimArtifact,
  type SimEvent,
  type SimMeeting,
  type SimState,
  type SimSubscription,
} from './state.js';

export interface GraphDeps {
  state: SimState;
  identity: Identity;
  clock: SimClock;
  delivery: Delivery;
  dispatcher: Dispatcher;
  baseUrl: () => string;
}

const P = {
  calendars: ['Calendars.ReadWrite'],
  meetingsRead: ['OnlineMeetings.Read.All', 'OnlineMeetings.ReadWrite.All'],
  meetingsWrite: ['OnlineMeetings.ReadWrite.All'],
  recordings: ['OnlineMeetingRecording.Read.All'],
  transcripts: ['OnlineMeetingTranscript.Read.All'],
};

/** Graph answers a missing role with a 403 that names the roles it wanted. */
function requireRole(claims: AppTokenClaims, anyOf: string[]): void {
  if (anyOf.some((r) => claims.roles?.includes(r))) return;
  throw new GraphHttpError(
    403,
    'Forbidden',
    `Missing role permissions on the request. API requires one of '${anyOf.join(', ')}'. Roles on the request '${(claims.roles ?? []).join(', ')}'.`,
  );
}

export const MAX_SUBSCRIPTION_MINUTES = 4320;
const LIFECYCLE_REQUIRED_ABOVE_MS = 60 * 60_000;
const VALIDATION_TIMEOUT_MS = 10_000;

/** Resources the recording/transcript subscriptions accept, per the Graph docs. */
const SUBSCRIBABLE: {
  pattern: RegExp;
  kind: ArtifactKind;
  scope: 'tenant' | 'user' | 'meeting';
}[] = [
  {
    pattern: /^communications\/onlineMeetings\/getAllRecordings$/,
    kind: 'recording',
    scope: 'tenant',
  },
  {
    pattern: /^communications\/onlineMeetings\/getAllTranscripts$/,
    kind: 'transcript',
    scope: 'tenant',
  },
  {
    pattern: /^users\/([^/]+)\/onlineMeetings\/getAllRecordings$/,
    kind: 'recording',
    scope: 'user',
  },
  {
    pattern: /^users\/([^/]+)\/onlineMeetings\/getAllTranscripts$/,
    kind: 'transcript',
    scope: 'user',
  },
  {
    pattern: /^communications\/onlineMeetings\/([^/]+)\/recordings$/,
    kind: 'recording',
    scope: 'meeting',
  },
  {
    pattern: /^communications\/onlineMeetings\/([^/]+)\/transcripts$/,
    kind: 'transcript',
    scope: 'meeting',
  },
];

function classify(resource: string) {
  const normalized = resource.replace(/^\//, '');
  for (const s of SUBSCRIBABLE) {
    const m = s.pattern.exec(normalized);
    if (m) return { ...s, key: m[1] };
  }
  return undefined;
}

function isoOrThrow(value: unknown, field: string): Date {
  const d = typeof value === 'string' ? new Date(value) : new Date(NaN);
  if (Number.isNaN(d.getTime()))
    throw new GraphHttpError(400, 'BadRequest', `Invalid value for '${field}'.`);
  return d;
}

/** Converts an event's `{dateTime, timeZone}` to an instant. Supports UTC and IANA zones. */
function instant(value: { dateTime?: string; timeZone?: string } | undefined, field: string): Date {
  if (!value?.dateTime)
    throw new GraphHttpError(400, 'ErrorInvalidRequest', `The '${field}' property is required.`);
  const zone = value.timeZone ?? 'UTC';
  const local = value.dateTime.replace(/Z$/, '');
  const asUtc = new Date(`${local}Z`);
  if (Number.isNaN(asUtc.getTime()))
    throw new GraphHttpError(
      400,
      'ErrorInvalidRequest',
      `The '${field}.dateTime' value is not valid.`,
    );
  if (zone === 'UTC' || zone === 'Etc/UTC') return asUtc;
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    }).formatToParts(asUtc);
  } catch {
    throw new GraphHttpError(
      400,
      'TimeZoneNotSupportedException',
      `A valid TimeZone value must be specified. The following TimeZone value is not supported: '${zone}'.`,
    );
  }
  const get = (t: string): number => Number(parts.find((p) => p.type === t)!.value);
  const zoned = Date.UTC(
    get('year'),
    get('month') - 1,
    get('day'),
    get('hour'),
    get('minute'),
    get('second'),
  );
  return new Date(asUtc.getTime() - (zoned - asUtc.getTime()));
}

export function registerGraphRoutes(
  router: Router,
  deps: GraphDeps,
): {
  authenticate: (ctx: Ctx) => Promise<AppTokenClaims>;
  endMeeting: (m: SimMeeting) => void;
  sweep: () => void;
} {
  const { state, identity, clock, delivery } = deps;

  async function authenticate(ctx: Ctx): Promise<AppTokenClaims> {
    const header = ctx.req.headers.authorization;
    if (!header)
      throw new GraphHttpError(401, 'InvalidAuthenticationToken', 'Access token is empty.');
    const m = /^Bearer (.+)$/.exec(header);
    if (!m)
      throw new GraphHttpError(
        401,
        'InvalidAuthenticationToken',
        'Access token validation failure. Invalid audience.',
      );
    const result = await identity.verifyGraphToken(m[1]!, Date.now());
    if (!result.ok) throw new GraphHttpError(401, 'InvalidAuthenticationToken', result.error);
    const claims = result.claims;
    if (claims.tid !== state.tenant.id || !state.app(claims.appid)) {
      throw new GraphHttpError(
        401,
        'InvalidAuthenticationToken',
        'Access token validation failure. Invalid tenant or application.',
      );
    }
    return claims;
  }

  function organizer(ctx: Ctx) {
    const user = state.user(ctx.params.user!);
    if (!user)
      throw new GraphHttpError(
        404,
        'ErrorItemNotFound',
        'The specified object was not found in the store.',
      );
    return user;
  }

  /** App-only meeting calls need a Teams application access policy for the organizer. */
  function requirePolicy(claims: AppTokenClaims, userId: string): void {
    const app = state.app(claims.appid)!;
    if (app.accessPolicyUsers.includes('*') || app.accessPolicyUsers.includes(userId)) return;
    throw new GraphHttpError(403, 'Forbidden', 'No Application Access Policy found for this app');
  }

  function meetingOf(userId: string, meetingId: string): SimMeeting {
    const m = state.meetings.get(meetingId);
    if (!m || m.organizerId !== userId)
      throw new GraphHttpError(404, 'NotFound', 'The specified meeting was not found.');
    return m;
  }

  // ---- calendar events ------------------------------------------------------------------

  function eventJson(e: SimEvent) {
    const org = state.user(e.organizerId)!;
    const meeting = e.onlineMeetingId ? state.meetings.get(e.onlineMeetingId) : undefined;
    return {
      '@odata.etag': `W/"${Buffer.from(e.lastModifiedDateTime).toString('base64')}"`,
      id: e.id,
      createdDateTime: e.createdDateTime,
      lastModifiedDateTime: e.lastModifiedDateTime,
      iCalUId: `040000008200E00074C5B7101A82E008${Buffer.from(e.id).toString('hex').slice(0, 32).toUpperCase()}`,
      transactionId: e.transactionId ?? null,
      subject: e.subject,
      body: e.body,
      start: e.start,
      end: e.end,
      attendees: e.attendees.map((a) => ({
        ...a,
        status: { response: 'none', time: '0001-01-01T00:00:00Z' },
      })),
      organizer: {
        emailAddress: { name: org.displayName, address: org.mail ?? org.userPrincipalName },
      },
      isOnlineMeeting: e.isOnlineMeeting,
      onlineMeetingProvider: e.onlineMeetingProvider,
      onlineMeeting: meeting ? { joinUrl: meeting.joinWebUrl } : null,
      webLink: `https://outlook.office365.com/owa/?itemid=${encodeURIComponent(e.id)}&exvsurl=1&path=/calendar/item`,
    };
  }

  router.add('POST', '/v1.0/users/:user/events', async (ctx) => {
    const claims = await authenticate(ctx);
    requireRole(claims, P.calendars);
    const user = organizer(ctx);
    const body = await ctx.body<
      Partial<SimEvent> & { start?: SimEvent['start']; end?: SimEvent['end'] }
    >();
    if (body.transactionId) {
      const existing = [...state.events.values()].find(
        (e) => e.organizerId === user.id && e.transactionId === body.transactionId,
      );
      if (existing) return sendJson(ctx.res, 201, eventJson(existing));
    }
    const start = instant(body.start, 'start');
    const end = instant(body.end, 'end');
    if (end <= start)
      throw new GraphHttpError(
        400,
        'ErrorInvalidRequest',
        'The end time must be after the start time.',
      );
    const nowIso = clock.now().toISOString();
    const event: SimEvent = {
      id: `AAMkA${Buffer.from(randomUUID()).toString('base64url')}`,
      organizerId: user.id,
      transactionId: body.transactionId,
      subject: body.subject ?? '',
      body: body.body ?? { contentType: 'text', content: '' },
      start: body.start!,
      end: body.end!,
      attendees: Array.isArray(body.attendees) ? body.attendees : [],
      isOnlineMeeting: body.isOnlineMeeting === true,
      onlineMeetingProvider: body.isOnlineMeeting
        ? (body.onlineMeetingProvider ?? 'teamsForBusiness')
        : 'unknown',
      createdDateTime: nowIso,
      lastModifiedDateTime: nowIso,
    };
    if (event.isOnlineMeeting) {
      if (event.onlineMeetingProvider !== 'teamsForBusiness') {
        throw new GraphHttpError(
          400,
          'ErrorInvalidRequest',
          `Online meeting provider '${event.onlineMeetingProvider}' is not supported for this mailbox.`,
        );
      }
      const attendeeIds = event.attendees
        .map((a) => state.userByEmail(a.emailAddress?.address ?? '')?.id)
        .filter((id): id is string => !!id);
      const meeting = state.newMeeting(
        user,
        {
          subject: event.subject,
          startDateTime: start.toISOString(),
          endDateTime: end.toISOString(),
          fromCalendar: true,
          attendeeIds,
          eventId: event.id,
        },
        clock.now(),
      );
      event.onlineMeetingId = meeting.id;
    }
    state.events.set(event.id, event);
    sendJson(ctx.res, 201, eventJson(event));
  });

  function eventOf(ctx: Ctx): SimEvent {
    const user = organizer(ctx);
    const e = state.events.get(ctx.params.id!);
    if (!e || e.organizerId !== user.id)
      throw new GraphHttpError(
        404,
        'ErrorItemNotFound',
        'The specified object was not found in the store.',
      );
    return e;
  }

  router.add('GET', '/v1.0/users/:user/events/:id', async (ctx) => {
    requireRole(await authenticate(ctx), P.calendars);
    sendJson(ctx.res, 200, eventJson(eventOf(ctx)));
  });

  router.add('PATCH', '/v1.0/users/:user/events/:id', async (ctx) => {
    requireRole(await authenticate(ctx), P.calendars);
    const e = eventOf(ctx);
    const body = await ctx.body<Partial<SimEvent>>();
    if (body.subject !== undefined) e.subject = body.subject;
    if (body.body !== undefined) e.body = body.body;
    if (body.attendees !== undefined) e.attendees = body.attendees;
    if (body.start !== undefined) e.start = body.start;
    if (body.end !== undefined) e.end = body.end;
    const start = instant(e.start, 'start');
    const end = instant(e.end, 'end');
    if (end <= start)
      throw new GraphHttpError(
        400,
        'ErrorInvalidRequest',
        'The end time must be after the start time.',
      );
    const meeting = e.onlineMeetingId ? state.meetings.get(e.onlineMeetingId) : undefined;
    if (meeting) {
      meeting.subject = e.subject;
      meeting.startDateTime = start.toISOString();
      meeting.endDateTime = end.toISOString();
    }
    e.lastModifiedDateTime = clock.now().toISOString();
    sendJson(ctx.res, 200, eventJson(e));
  });

  router.add('DELETE', '/v1.0/users/:user/events/:id', async (ctx) => {
    requireRole(await authenticate(ctx), P.calendars);
    const e = eventOf(ctx);
    state.events.delete(e.id);
    reply(ctx.res, 204);
  });

  // ---- online meetings ------------------------------------------------------------------

  router.add('GET', '/v1.0/users/:user/onlineMeetings', async (ctx) => {
    const claims = await authenticate(ctx);
    requireRole(claims, P.meetingsRead);
    const user = organizer(ctx);
    requirePolicy(claims, user.id);
    const filter = ctx.url.searchParams.get('$filter');
    const m = filter && /^\s*joinWebUrl\s+eq\s+'((?:[^']|'')*)'\s*$/i.exec(filter);
    if (!m)
      throw new GraphHttpError(
        400,
        'BadRequest',
        "Filter is required and must be of the form JoinWebUrl eq '{joinWebUrl}'.",
      );
    const url = m[1]!.replace(/''/g, "'");
    const found = [...state.meetings.values()].filter(
      (x) => x.organizerId === user.id && x.joinWebUrl === url,
    );
    sendJson(ctx.res, 200, {
      '@odata.context': `${deps.baseUrl()}/v1.0/$metadata#users('${user.id}')/onlineMeetings`,
      value: found.map((x) => meetingJson(state, x)),
    });
  });

  router.add('POST', '/v1.0/users/:user/onlineMeetings', async (ctx) => {
    const claims = await authenticate(ctx);
    requireRole(claims, P.meetingsWrite);
    const user = organizer(ctx);
    requirePolicy(claims, user.id);
    const body = await ctx.body<{
      subject?: string;
      startDateTime?: string;
      endDateTime?: string;
    }>();
    const start = body.startDateTime
      ? isoOrThrow(body.startDateTime, 'startDateTime')
      : clock.now();
    const end = body.endDateTime
      ? isoOrThrow(body.endDateTime, 'endDateTime')
      : new Date(start.getTime() + 3600_000);
    const meeting = state.newMeeting(
      user,
      {
        subject: body.subject ?? '',
        startDateTime: start.toISOString(),
        endDateTime: end.toISOString(),
        fromCalendar: false,
        attendeeIds: [],
      },
      clock.now(),
    );
    sendJson(ctx.res, 201, meetingJson(state, meeting));
  });

  router.add('GET', '/v1.0/users/:user/onlineMeetings/:meeting', async (ctx) => {
    const claims = await authenticate(ctx);
    requireRole(claims, P.meetingsRead);
    const user = organizer(ctx);
    requirePolicy(claims, user.id);
    sendJson(ctx.res, 200, meetingJson(state, meetingOf(user.id, ctx.params.meeting!)));
  });

  const PATCHABLE = new Set([
    'startDateTime',
    'endDateTime',
    'subject',
    'recordAutomatically',
    'allowRecording',
    'allowTranscription',
    'lobbyBypassSettings',
    'allowedPresenters',
    'allowMeetingChat',
    'allowTeamworkReactions',
    'participants',
  ]);

  router.add('PATCH', '/v1.0/users/:user/onlineMeetings/:meeting', async (ctx) => {
    const claims = await authenticate(ctx);
    requireRole(claims, P.meetingsWrite);
    const user = organizer(ctx);
    requirePolicy(claims, user.id);
    const meeting = meetingOf(user.id, ctx.params.meeting!);
    const body = await ctx.body<Record<string, unknown>>();
    for (const key of Object.keys(body)) {
      if (!PATCHABLE.has(key))
        throw new GraphHttpError(400, 'BadRequest', `Property '${key}' cannot be updated.`);
    }
    // Documented: an update must carry startDateTime and endDateTime, even when unchanged.
    if (body.startDateTime === undefined || body.endDateTime === undefined) {
      throw new GraphHttpError(
        400,
        'BadRequest',
        'The request must contain startDateTime and endDateTime.',
      );
    }
    const start = isoOrThrow(body.startDateTime, 'startDateTime');
    const end = isoOrThrow(body.endDateTime, 'endDateTime');
    if (end <= start)
      throw new GraphHttpError(400, 'BadRequest', 'endDateTime must be after startDateTime.');
    for (const flag of ['recordAutomatically', 'allowRecording', 'allowTranscription'] as const) {
      if (body[flag] !== undefined && typeof body[flag] !== 'boolean')
        throw new GraphHttpError(400, 'BadRequest', `Invalid value for '${flag}'.`);
    }
    meeting.startDateTime = start.toISOString();
    meeting.endDateTime = end.toISOString();
    if (typeof body.subject === 'string') meeting.subject = body.subject;
    if (typeof body.recordAutomatically === 'boolean')
      meeting.recordAutomatically = body.recordAutomatically;
    if (typeof body.allowRecording === 'boolean') meeting.allowRecording = body.allowRecording;
    if (typeof body.allowTranscription === 'boolean')
      meeting.allowTranscription = body.allowTranscription;
    sendJson(ctx.res, 200, meetingJson(state, meeting));
  });

  // ---- recordings and transcripts -------------------------------------------------------

  for (const kind of ['recording', 'transcript'] as const) {
    const plural = `${kind}s`;
    const roles = kind === 'recording' ? P.recordings : P.transcripts;
    const listable = (a: SimArtifact) => state.meetings.get(a.meetingId)?.fromCalendar === true;

    router.add('GET', `/v1.0/users/:user/onlineMeetings/:meeting/${plural}`, async (ctx) => {
      const claims = await authenticate(ctx);
      requireRole(claims, roles);
      const user = organizer(ctx);
      requirePolicy(claims, user.id);
      const meeting = meetingOf(user.id, ctx.params.meeting!);
      const items = state.artifactsOf(kind, (a) => a.meetingId === meeting.id && listable(a));
      sendJson(ctx.res, 200, { value: items.map((a) => artifactJson(state, a, deps.baseUrl())) });
    });

    const artifactOf = (ctx: Ctx, userId: string) => {
      const meeting = meetingOf(userId, ctx.params.meeting!);
      const a = state.artifacts.get(ctx.params.id!);
      if (!a || a.kind !== kind || a.meetingId !== meeting.id || !listable(a))
        throw new GraphHttpError(404, 'NotFound', `The ${kind} was not found.`);
      return a;
    };

    router.add('GET', `/v1.0/users/:user/onlineMeetings/:meeting/${plural}/:id`, async (ctx) => {
      const claims = await authenticate(ctx);
      requireRole(claims, roles);
      const user = organizer(ctx);
      requirePolicy(claims, user.id);
      sendJson(ctx.res, 200, artifactJson(state, artifactOf(ctx, user.id), deps.baseUrl()));
    });

    router.add(
      'GET',
      `/v1.0/users/:user/onlineMeetings/:meeting/${plural}/:id/content`,
      async (ctx) => {
        const claims = await authenticate(ctx);
        requireRole(claims, roles);
        const user = organizer(ctx);
        requirePolicy(claims, user.id);
        const a = artifactOf(ctx, user.id);
        if (kind === 'transcript') {
          const m = state.meetings.get(a.meetingId)!;
          const names = m.attendeeIds
            .map((id) => state.user(id)?.displayName)
            .filter((n): n is string => !!n);
          const vtt = Buffer.from(
            transcriptVtt(state.user(m.organizerId)?.displayName ?? 'Organizer', names),
          );
          reply(ctx.res, 200, { 'content-type': 'text/vtt', 'content-length': vtt.length }, vtt);
          return;
        }
        const range = parseRange(ctx.req.headers.range, a.size);
        if (range === 'invalid') {
          reply(ctx.res, 416, { 'content-range': `bytes */${a.size}` });
          return;
        }
        const { start, end } = range ?? { start: 0, end: a.size - 1 };
        ctx.res.writeHead(range ? 206 : 200, {
          'content-type': 'video/mp4',
          'content-length': end - start + 1,
          'accept-ranges': 'bytes',
          ...(range ? { 'content-range': `bytes ${start}-${end}/${a.size}` } : {}),
        });
        const stream = recordingStream(a.id, a.size, start, end);
        stream.pipe(ctx.res);
        ctx.res.on('close', () => stream.destroy());
      },
    );

    // getAllRecordings / getAllTranscripts, with and without delta.
    const fn = kind === 'recording' ? 'getAllRecordings' : 'getAllTranscripts';
    router.addRegex(
      'GET',
      new RegExp(`^/v1\\.0/users/([^/]+)/onlineMeetings/${fn}(?:\\(([^)]*)\\))?(/delta)?$`),
      ['user', 'args', 'delta'],
      async (ctx) => {
        const claims = await authenticate(ctx);
        requireRole(claims, roles);
        const user = organizer(ctx);
        requirePolicy(claims, user.id);
        const args = Object.fromEntries(
          (ctx.params.args ?? '')
            .split(',')
            .map((p) => p.trim())
            .filter(Boolean)
            .map((p) => {
              const [k, ...v] = p.split('=');
              return [
                k!.trim(),
                v
                  .join('=')
                  .trim()
                  .replace(/^'(.*)'$/, '$1'),
              ];
            }),
        );
        const filter = ctx.url.searchParams.get('$filter');
        const filterOrganizer = filter
          ? /^MeetingOrganizer\/User\/Id eq '([^']+)'$/i.exec(filter.trim())?.[1]
          : undefined;
        const organizerId = args.meetingOrganizerUserId ?? filterOrganizer;
        if (!organizerId)
          throw new GraphHttpError(
            400,
            'BadRequest',
            'meetingOrganizerUserId or a filter on MeetingOrganizer/User/Id is required.',
          );
        if (organizerId !== user.id)
          throw new GraphHttpError(
            403,
            'Forbidden',
            'The meeting organizer must be the user in the request path.',
          );
        const from = args.startDateTime
          ? isoOrThrow(args.startDateTime, 'startDateTime').getTime()
          : -Infinity;
        const to = args.endDateTime
          ? isoOrThrow(args.endDateTime, 'endDateTime').getTime()
          : Infinity;
        const tokenIn =
          ctx.url.searchParams.get('$deltatoken') ?? ctx.url.searchParams.get('$skiptoken');
        let afterSeq = 0;
        if (tokenIn) {
          try {
            afterSeq = Number(JSON.parse(Buffer.from(tokenIn, 'base64url').toString('utf8')).after);
          } catch {
            throw new GraphHttpError(400, 'BadRequest', 'The delta token is not valid.');
          }
          if (!Number.isInteger(afterSeq))
            throw new GraphHttpError(400, 'BadRequest', 'The delta token is not valid.');
        }
        const top = Math.min(Number(ctx.url.searchParams.get('$top') ?? 100) || 100, 100);
        const all = state.artifactsOf(
          kind,
          (a) =>
            a.organizerId === organizerId &&
            listable(a) &&
            a.seq > afterSeq &&
            Date.parse(a.createdDateTime) >= from &&
            Date.parse(a.createdDateTime) <= to,
        );
        const page = all.slice(0, top);
        const last = page.length ? page[page.length - 1]!.seq : afterSeq;
        const token = Buffer.from(JSON.stringify({ after: last })).toString('base64url');
        const self = `${deps.baseUrl()}${ctx.url.pathname}`;
        const body: Record<string, unknown> = {
          '@odata.context': `${deps.baseUrl()}/v1.0/$metadata#Collection(${kind === 'recording' ? 'callRecording' : 'callTranscript'})`,
          value: page.map((a) => artifactJson(state, a, deps.baseUrl())),
        };
        if (all.length > top) body['@odata.nextLink'] = `${self}?$skiptoken=${token}`;
        else if (ctx.params.delta) body['@odata.deltaLink'] = `${self}?$deltatoken=${token}`;
        sendJson(ctx.res, 200, body);
      },
    );
  }

  // ---- teams and groups (who may schedule) ---------------------------------------------

  router.add('GET', '/v1.0/teams/:team/members', async (ctx) => {
    requireRole(await authenticate(ctx), ['TeamMember.Read.All', 'TeamMember.ReadWrite.All']);
    const team = state.tenant.teams.find((t) => t.id === ctx.params.team);
    if (!team)
      throw new GraphHttpError(404, 'NotFound', `No team found with Group Id ${ctx.params.team}`);
    const value = team.members.map((userId) => {
      const u = state.user(userId);
      return {
        '@odata.type': '#microsoft.graph.aadUserConversationMember',
        id: Buffer.from(`${team.id}##${userId}`).toString('base64'),
        roles: team.owners.includes(userId) ? ['owner'] : [],
        displayName: u?.displayName ?? null,
        userId,
        email: u?.mail ?? null,
        tenantId: state.tenant.id,
      };
    });
    sendJson(ctx.res, 200, {
      '@odata.context': `${deps.baseUrl()}/v1.0/$metadata#teams('${team.id}')/members`,
      '@odata.count': value.length,
      value,
    });
  });

  router.add('POST', '/v1.0/users/:user/checkMemberGroups', async (ctx) => {
    requireRole(await authenticate(ctx), [
      'GroupMember.Read.All',
      'Group.Read.All',
      'Directory.Read.All',
    ]);
    const user = organizer(ctx);
    const body = await ctx.body<{ groupIds?: unknown }>();
    if (
      !Array.isArray(body.groupIds) ||
      body.groupIds.length === 0 ||
      body.groupIds.length > 20 ||
      !body.groupIds.every((g) => typeof g === 'string')
    ) {
      throw new GraphHttpError(
        400,
        'Request_BadRequest',
        'groupIds must be a list of 1 to 20 group ids.',
      );
    }
    const memberOf = new Set([
      ...(state.tenant.groups ?? []).filter((g) => g.members.includes(user.id)).map((g) => g.id),
      ...state.tenant.teams.filter((t) => t.members.includes(user.id)).map((t) => t.id),
    ]);
    sendJson(ctx.res, 200, { value: (body.groupIds as string[]).filter((g) => memberOf.has(g)) });
  });

  // ---- subscriptions --------------------------------------------------------------------

  function subscriptionJson(s: SimSubscription) {
    return {
      '@odata.context': `${deps.baseUrl()}/v1.0/$metadata#subscriptions/$entity`,
      id: s.id,
      resource: s.resource,
      applicationId: s.appId,
      changeType: s.changeType,
      clientState: s.clientState ?? null,
      notificationUrl: s.notificationUrl,
      notificationQueryOptions: null,
      lifecycleNotificationUrl: s.lifecycleNotificationUrl ?? null,
      expirationDateTime: s.expirationDateTime.toISOString(),
      creatorId: s.appId,
      includeResourceData: s.includeResourceData,
      latestSupportedTlsVersion: s.latestSupportedTlsVersion,
      encryptionCertificate: s.encryptionCertificate ?? null,
      encryptionCertificateId: s.encryptionCertificateId ?? null,
      notificationUrlAppId: null,
    };
  }

  function checkExpiration(value: unknown, hasLifecycleUrl: boolean): Date {
    if (value === undefined)
      throw new GraphHttpError(
        400,
        'InvalidRequest',
        'expirationDateTime is a required property for subscription creation.',
      );
    const at = isoOrThrow(value, 'expirationDateTime');
    const ahead = at.getTime() - clock.protocolNowMs();
    if (ahead <= 0)
      throw new GraphHttpError(
        400,
        'InvalidRequest',
        'Subscription expiration must be in the future.',
      );
    if (ahead > MAX_SUBSCRIPTION_MINUTES * 60_000) {
      throw new GraphHttpError(
        400,
        'InvalidRequest',
        `Subscription expiration can only be ${MAX_SUBSCRIPTION_MINUTES} minutes in the future.`,
      );
    }
    if (ahead > LIFECYCLE_REQUIRED_ABOVE_MS && !hasLifecycleUrl) {
      throw new GraphHttpError(
        400,
        'InvalidRequest',
        'lifecycleNotificationUrl is required for subscription creation on this resource when the expirationDateTime value exceeds 1 hour.',
      );
    }
    return at;
  }

  function checkUrl(value: unknown, field: string): string {
    let url: URL;
    try {
      url = new URL(String(value));
    } catch {
      throw new GraphHttpError(400, 'InvalidRequest', `${field} is not a valid URL.`);
    }
    const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
    if (
      url.protocol === 'https:' ||
      (url.protocol === 'http:' && loopback && state.tenant.allowLoopbackHttp)
    )
      return url.toString();
    throw new GraphHttpError(400, 'InvalidRequest', `Subscription ${field} must be an https URL.`);
  }

  async function validateEndpoint(url: string): Promise<void> {
    const token = `Validation: Testing client application reachability for subscription Request-Id: ${randomUUID()}`;
    const target = new URL(url);
    target.searchParams.set('validationToken', token);
    let res;
    try {
      res = await fetch(target, {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        body: '',
        dispatcher: deps.dispatcher,
        signal: AbortSignal.timeout(VALIDATION_TIMEOUT_MS),
      });
    } catch (err) {
      const timeout = (err as Error).name === 'TimeoutError';
      throw new GraphHttpError(
        400,
        'InvalidRequest',
        timeout
          ? 'Subscription validation request failed. Must respond with 200 OK to this request.'
          : 'Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.',
      );
    }
    const text = await res.text();
    if (res.status !== 200)
      throw new GraphHttpError(
        400,
        'InvalidRequest',
        `Subscription validation request failed. HTTP status code is '${res.status}'.`,
      );
    if (text !== token)
      throw new GraphHttpError(
        400,
        'InvalidRequest',
        'Subscription validation request failed. Response must exactly match validationToken query parameter.',
      );
  }

  function checkCertificate(value: unknown): void {
    try {
      const cert = new X509Certificate(Buffer.from(String(value), 'base64'));
      const bits = cert.publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
      if (cert.publicKey.asymmetricKeyType !== 'rsa' || bits < 2048 || bits > 4096)
        throw new Error('key');
    } catch {
      throw new GraphHttpError(
        400,
        'InvalidRequest',
        'encryptionCertificate must be a base64-encoded X.509 certificate with an RSA key of 2048 to 4096 bits.',
      );
    }
  }

  router.add('POST', '/v1.0/subscriptions', async (ctx) => {
    const claims = await authenticate(ctx);
    const body = await ctx.body<Record<string, unknown>>();
    const resource = String(body.resource ?? '');
    const kind = classify(resource);
    if (!kind)
      throw new GraphHttpError(
        400,
        'InvalidRequest',
        `Resource '${resource}' is not supported for change notifications by this service.`,
      );
    requireRole(claims, kind.kind === 'recording' ? P.recordings : P.transcripts);
    if (kind.scope === 'user') {
      const u = state.user(kind.key!);
      if (!u)
        throw new GraphHttpError(404, 'ResourceNotFound', `User '${kind.key}' was not found.`);
    }
    if (body.changeType !== 'created')
      throw new GraphHttpError(
        400,
        'InvalidRequest',
        `ChangeType '${String(body.changeType)}' is not supported for resource '${resource}'. Supported: created.`,
      );
    const notificationUrl = checkUrl(body.notificationUrl, 'notificationUrl');
    const lifecycleNotificationUrl = body.lifecycleNotificationUrl
      ? checkUrl(body.lifecycleNotificationUrl, 'lifecycleNotificationUrl')
      : undefined;
    const expirationDateTime = checkExpiration(body.expirationDateTime, !!lifecycleNotificationUrl);
    if (
      body.clientState !== undefined &&
      (typeof body.clientState !== 'string' || body.clientState.length > 128)
    ) {
      throw new GraphHttpError(
        400,
        'InvalidRequest',
        'clientState must be a string of at most 128 characters.',
      );
    }
    const includeResourceData = body.includeResourceData === true;
    if (includeResourceData) {
      if (!body.encryptionCertificate || !body.encryptionCertificateId) {
        throw new GraphHttpError(
          400,
          'InvalidRequest',
          'encryptionCertificate and encryptionCertificateId are required when includeResourceData is true.',
        );
      }
      checkCertificate(body.encryptionCertificate);
      if (String(body.encryptionCertificateId).length > 128)
        throw new GraphHttpError(
          400,
          'InvalidRequest',
          'encryptionCertificateId must be at most 128 characters.',
        );
    }
    const mine = [...state.subscriptions.values()].filter(
      (s) => s.appId === claims.appid && s.tenantId === state.tenant.id,
    );
    if (mine.length >= state.tenant.subscriptionQuota) {
      throw new GraphHttpError(
        403,
        'ExtensionError',
        'Operation: Create; Exception: [Status Code: Forbidden; Reason: The subscription quota for this application has been exceeded.]',
      );
    }
    await validateEndpoint(notificationUrl);
    if (lifecycleNotificationUrl) await validateEndpoint(lifecycleNotificationUrl);
    const sub: SimSubscription = {
      id: randomUUID(),
      appId: claims.appid,
      tenantId: state.tenant.id,
      resource,
      changeType: 'created',
      notificationUrl,
      lifecycleNotificationUrl,
      clientState: body.clientState as string | undefined,
      expirationDateTime,
      includeResourceData,
      encryptionCertificate: includeResourceData ? String(body.encryptionCertificate) : undefined,
      encryptionCertificateId: includeResourceData
        ? String(body.encryptionCertificateId)
        : undefined,
      latestSupportedTlsVersion: String(body.latestSupportedTlsVersion ?? 'v1_2'),
      reauthorizationSent: false,
    };
    state.subscriptions.set(sub.id, sub);
    sendJson(ctx.res, 201, subscriptionJson(sub));
  });

  function ownSubscription(ctx: Ctx, claims: AppTokenClaims): SimSubscription {
    const s = state.subscriptions.get(ctx.params.id!);
    if (!s) throw new GraphHttpError(404, 'ResourceNotFound', `The object was not found.`);
    if (s.appId !== claims.appid)
      throw new GraphHttpError(
        403,
        'ExtensionError',
        'Operation: Get; Exception: [Status Code: Forbidden; Reason: The subscription belongs to another application.]',
      );
    return s;
  }

  router.add('GET', '/v1.0/subscriptions', async (ctx) => {
    const claims = await authenticate(ctx);
    const value = [...state.subscriptions.values()]
      .filter((s) => s.appId === claims.appid)
      .map(subscriptionJson);
    sendJson(ctx.res, 200, {
      '@odata.context': `${deps.baseUrl()}/v1.0/$metadata#subscriptions`,
      value,
    });
  });

  router.add('GET', '/v1.0/subscriptions/:id', async (ctx) => {
    sendJson(ctx.res, 200, subscriptionJson(ownSubscription(ctx, await authenticate(ctx))));
  });

  router.add('PATCH', '/v1.0/subscriptions/:id', async (ctx) => {
    const s = ownSubscription(ctx, await authenticate(ctx));
    const body = await ctx.body<Record<string, unknown>>();
    for (const key of Object.keys(body)) {
      if (
        ![
          'expirationDateTime',
          'notificationUrl',
          'encryptionCertificate',
          'encryptionCertificateId',
          'latestSupportedTlsVersion',
        ].includes(key)
      ) {
        throw new GraphHttpError(400, 'InvalidRequest', `Property '${key}' cannot be updated.`);
      }
    }
    if (body.expirationDateTime !== undefined)
      s.expirationDateTime = checkExpiration(body.expirationDateTime, !!s.lifecycleNotificationUrl);
    if (body.notificationUrl !== undefined) {
      const url = checkUrl(body.notificationUrl, 'notificationUrl');
      await validateEndpoint(url);
      s.notificationUrl = url;
    }
    if (body.encryptionCertificate !== undefined) {
      checkCertificate(body.encryptionCertificate);
      s.encryptionCertificate = String(body.encryptionCertificate);
      s.encryptionCertificateId = String(body.encryptionCertificateId ?? s.encryptionCertificateId);
    }
    s.reauthorizationSent = false;
    sendJson(ctx.res, 200, subscriptionJson(s));
  });

  router.add('DELETE', '/v1.0/subscriptions/:id', async (ctx) => {
    const s = ownSubscription(ctx, await authenticate(ctx));
    state.subscriptions.delete(s.id);
    reply(ctx.res, 204);
  });

  router.add('POST', '/v1.0/subscriptions/:id/reauthorize', async (ctx) => {
    const s = ownSubscription(ctx, await authenticate(ctx));
    s.reauthorizationSent = false;
    reply(ctx.res, 200);
  });

  // ---- meeting end, notifications, lifecycle --------------------------------------------

  function matches(sub: SimSubscription, a: SimArtifact): boolean {
    const k = classify(sub.resource);
    if (!k || k.kind !== a.kind || sub.tenantId !== state.tenant.id) return false;
    if (sub.expirationDateTime.getTime() <= clock.protocolNowMs()) return false;
    if (k.scope === 'tenant') return true;
    if (k.scope === 'user') return state.user(k.key!)?.id === a.organizerId;
    return k.key === a.meetingId;
  }

  function notify(a: SimArtifact): void {
    const segment = a.kind === 'recording' ? 'recordings' : 'transcripts';
    const resource = `communications/onlineMeetings('${a.meetingId}')/${segment}('${a.id}')`;
    for (const sub of state.subscriptions.values()) {
      if (!matches(sub, a)) continue;
      const item: Record<string, unknown> = {
        subscriptionId: sub.id,
        changeType: 'created',
        clientState: sub.clientState ?? null,
        subscriptionExpirationDateTime: sub.expirationDateTime.toISOString(),
        resource,
        resourceData: {
          id: a.id,
          '@odata.type':
            a.kind === 'recording'
              ? '#Microsoft.Graph.callRecording'
              : '#Microsoft.Graph.callTranscript',
          '@odata.id': resource,
        },
        tenantId: sub.tenantId,
      };
      if (sub.includeResourceData) {
        const resourceBody: Record<string, unknown> = {
          ...artifactJson(state, a, deps.baseUrl()),
          content: null,
        };
        delete resourceBody['@odata.type'];
        item.encryptedContent = encryptResource(
          resourceBody,
          sub.encryptionCertificate!,
          sub.encryptionCertificateId!,
        );
      }
      delivery.enqueue('change', sub, item);
    }
  }

  /** Ends a meeting: its recording (and transcript) appear and are announced. */
  function endMeeting(m: SimMeeting): void {
    if (m.ended) return;
    m.ended = true;
    const now = clock.now();
    if (now.getTime() < Date.parse(m.endDateTime)) m.endDateTime = now.toISOString();
    if (!m.fromCalendar || !m.recordAutomatically || !m.allowRecording) return;
    notify(state.newArtifact('recording', m, now, m.recordingBytes ?? state.tenant.recordingBytes));
    if (m.allowTranscription) notify(state.newArtifact('transcript', m, now, 0));
  }

  /** Runs on every tick: meetings whose time is up end; subscriptions near expiry ask for reauthorization. */
  function sweep(): void {
    const now = clock.nowMs();
    for (const m of state.meetings.values())
      if (!m.ended && Date.parse(m.endDateTime) <= now) endMeeting(m);
    const protocolNow = clock.protocolNowMs();
    for (const s of [...state.subscriptions.values()]) {
      const left = s.expirationDateTime.getTime() - protocolNow;
      if (left <= 0) {
        state.subscriptions.delete(s.id); // expired subscriptions are removed silently
      } else if (left <= 10 * 60_000 && !s.reauthorizationSent && s.lifecycleNotificationUrl) {
        s.reauthorizationSent = true;
        delivery.enqueue('lifecycle', s, lifecycleItem(s, 'reauthorizationRequired'));
      }
    }
  }

  return { authenticate, endMeeting, sweep };
}

export function lifecycleItem(
  s: SimSubscription,
  lifecycleEvent: 'reauthorizationRequired' | 'subscriptionRemoved' | 'missed',
) {
  return {
    subscriptionId: s.id,
    subscriptionExpirationDateTime: s.expirationDateTime.toISOString(),
    tenantId: s.tenantId,
    clientState: s.clientState ?? null,
    lifecycleEvent,
  };
}
