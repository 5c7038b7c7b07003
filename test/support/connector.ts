import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ORGANIZER } from './graph.js';

export interface RosterMember {
  id: string;
  name: string;
  aadObjectId: string;
  email?: string;
  userPrincipalName?: string;
}

/**
 * A Bot Connector stand-in for bot tests: receives the bot's replies
 * (`POST /v3/conversations/{id}/activities[/{replyTo}]`) and serves a roster
 * (`GET /v3/conversations/{id}/pagedmembers`) and team details (`GET /v3/teams/{id}`), as the
 * Connector REST API does.
 */
export async function startConnector(
  roster: RosterMember[] = [],
  /** Team details by team id (`GET /v3/teams/{id}`), as Teams answers for an installed bot. */
  teams: Record<string, { name: string; aadGroupId: string }> = {},
) {
  const activities: { conversationId: string; activity: Record<string, unknown> }[] = [];
  const updates: {
    conversationId: string;
    activityId: string;
    activity: Record<string, unknown>;
  }[] = [];
  let n = 0;
  /** What the next POSTs get instead of 200: a status (403: the bot was removed) or a hang. */
  const faults: ('hang' | number)[] = [];
  const hung: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const post = /^\/v3\/conversations\/([^/]+)\/activities(?:\/[^/]+)?$/.exec(url.pathname);
      const members = /^\/v3\/conversations\/([^/]+)\/pagedmembers$/.exec(url.pathname);
      const update = /^\/v3\/conversations\/([^/]+)\/activities\/([^/]+)$/.exec(url.pathname);
      const team = /^\/v3\/teams\/([^/]+)$/.exec(url.pathname);
      const member = /^\/v3\/conversations\/([^/]+)\/members\/([^/]+)$/.exec(url.pathname);
      if (req.method === 'GET' && member) {
        const found = roster.find((m) => m.id === decodeURIComponent(member[2]!));
        res.writeHead(found ? 200 : 404, { 'content-type': 'application/json' });
        res.end(JSON.stringify(found ?? { error: { code: 'MemberNotFoundInConversation' } }));
        return;
      }
      const teamDetails = team && teams[decodeURIComponent(team[1]!)];
      if (req.method === 'GET' && teamDetails) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: decodeURIComponent(team[1]!), ...teamDetails }));
        return;
      }
      if (req.method === 'PUT' && update) {
        updates.push({
          conversationId: decodeURIComponent(update[1]!),
          activityId: decodeURIComponent(update[2]!),
          activity: JSON.parse(Buffer.concat(chunks).toString('utf8')),
        });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: decodeURIComponent(update[2]!) }));
        return;
      }
      if (req.method === 'POST' && post && faults.length) {
        const fault = faults.shift()!;
        if (fault === 'hang') hung.push(res);
        else {
          res.writeHead(fault, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 'BotNotInConversationRoster', message: 'x' } }));
        }
        return;
      }
      if (req.method === 'POST' && post) {
        activities.push({
          conversationId: decodeURIComponent(post[1]!),
          activity: JSON.parse(Buffer.concat(chunks).toString('utf8')),
        });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: `reply-${++n}` }));
      } else if (req.method === 'GET' && members) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ members: roster }));
      } else {
        res.writeHead(404);
        res.end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    serviceUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    activities,
    faults,
    /** Requests left hanging by a 'hang' fault so far. */
    hung: () => hung.length,
    /** Cards updated in place (`PUT …/activities/{id}`). */
    updates,
    /** Text of the bot's text messages (typing indicators and cards left out). */
    texts: () =>
      activities
        .filter(
          (a) =>
            a.activity.type === 'message' &&
            typeof a.activity.text === 'string' &&
            a.activity.text !== '',
        )
        .map((a) => String(a.activity.text)),
    close: () =>
      new Promise<void>((resolve) => {
        for (const r of hung.splice(0)) r.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Where a test's channel messages come from: the class channel of team-1, as Ina. */
export interface ChannelMessageContext {
  id: string;
  serviceUrl: string;
  tenantId: string;
  timestamp: Date;
  channelId: string;
  teamGroupId: string;
}

/** A message from Ina Organizer in the class channel, as Teams sends it to the bot. */
export function channelMessage(
  text: string,
  c: ChannelMessageContext,
  overrides: Record<string, unknown> = {},
) {
  return {
    type: 'message',
    id: c.id,
    text,
    channelId: 'msteams',
    serviceUrl: c.serviceUrl,
    timestamp: c.timestamp.toISOString(),
    from: { id: '29:ina', name: 'Ina Organizer', aadObjectId: ORGANIZER },
    recipient: { id: '28:bot', name: 'Classroom Recorder' },
    conversation: { id: c.channelId, conversationType: 'channel', tenantId: c.tenantId },
    channelData: {
      team: { id: 'team-1', name: 'Biology 101', aadGroupId: c.teamGroupId },
      channel: { id: c.channelId, name: 'General' },
      tenant: { id: c.tenantId },
    },
    ...overrides,
  };
}
