import type { SimClock } from './clock.js';
import type { Identity } from './identity.js';
import type { Delivery } from './delivery.js';
import { lifecycleItem } from './graph.js';
import { GraphHttpError, sendJson, type Router, reply } from './http.js';
import type { SimMeeting, SimState } from './state.js';
import { z } from 'zod';
import type { SimTenant } from './tenant.js';

const tenantSchema: z.ZodType<SimTenant> = z.object({
  id: z.string().min(1),
  displayName: z.string(),
  users: z.array(
    z.object({
      id: z.string().min(1),
      displayName: z.string(),
      userPrincipalName: z.string().min(1),
      mail: z.string().optional(),
    }),
  ),
  teams: z.array(
    z.object({
      id: z.string().min(1),
      displayName: z.string(),
      members: z.array(z.string()),
      owners: z.array(z.string()),
      channels: z.array(z.object({ id: z.string().min(1), displayName: z.string() })),
    }),
  ),
  groups: z
    .array(
      z.object({ id: z.string().min(1), displayName: z.string(), members: z.array(z.string()) }),
    )
    .optional(),
  apps: z.array(
    z.object({
      clientId: z.string().min(1),
      displayName: z.string(),
      secrets: z.array(z.string()),
      certificates: z.array(z.string()).optional(),
      roles: z.array(z.string()),
      accessPolicyUsers: z.array(z.string()),
    }),
  ),
  subscriptionQuota: z.number().int().min(0),
  allowLoopbackHttp: z.boolean(),
  recordingBytes: z.number().int().min(16),
});

/** A fault to inject into Graph answers. */
export interface Fault {
  method?: string;
  /** Matches when the request path contains it. */
  path?: string;
  status?: 429 | 500 | 502 | 503 | 504;
  retryAfterSeconds?: number;
  latencyMs?: number;
  /** How many matching requests it applies to. */
  count: number;
}

export interface RequestRecord {
  method: string;
  path: string;
  status: number;
  at: string;
}

export interface ControlDeps {
  state: SimState;
  clock: SimClock;
  delivery: Delivery;
  faults: Fault[];
  requests: RequestRecord[];
  endMeeting: (m: SimMeeting) => void;
  identity: Identity;
  baseUrl: () => string;
}

const ssoTokenSchema = z.object({
  userId: z.string().min(1),
  clientId: z.string().min(1),
  version: z.enum(['1.0', '2.0']).default('2.0'),
  /** Defaults: the client id (v2) or `api://localhost/{clientId}` (v1). */
  audience: z.string().min(1).optional(),
  scope: z.string().min(1).default('access_as_user'),
  /** Test equipment: another tenant's id in `tid`, or an old issue time (expired tokens). */
  tenantId: z.string().min(1).optional(),
  issuedAt: z.iso.datetime().optional(),
  lifetimeSeconds: z.number().int().min(1).max(86_400).default(3600),
});

/**
 * The control API, under /_sim: test equipment, never reachable through Graph paths. It ends
 * meetings, moves the clock, injects faults and shows what happened.
 */
export function registerControlRoutes(router: Router, deps: ControlDeps): void {
  const { state, clock, delivery } = deps;

  router.add('GET', '/_sim/state', (ctx) =>
    sendJson(ctx.res, 200, {
      tenant: state.tenant,
      clock: { now: clock.now().toISOString(), scale: clock.scale },
      meetings: [...state.meetings.values()],
      artifacts: [...state.artifacts.values()],
      subscriptions: [...state.subscriptions.values()].map((s) => ({
        ...s,
        clientState: s.clientState ? '[set]' : null,
      })),
    }),
  );

  router.add('PUT', '/_sim/tenant', async (ctx) => {
    const parsed = tenantSchema.safeParse(await ctx.body());
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new GraphHttpError(
        400,
        'BadRequest',
        `tenant.${issue.path.join('.')}: ${issue.message}`,
      );
    }
    state.tenant = parsed.data;
    sendJson(ctx.res, 200, state.tenant);
  });

  router.add('POST', '/_sim/clock', async (ctx) => {
    const body = await ctx.body<{ scale?: number; advanceMs?: number }>();
    try {
      if (body.scale !== undefined) clock.setScale(body.scale);
      if (body.advanceMs !== undefined) clock.advance(body.advanceMs);
    } catch (err) {
      throw new GraphHttpError(400, 'BadRequest', (err as Error).message);
    }
    sendJson(ctx.res, 200, { now: clock.now().toISOString(), scale: clock.scale });
  });

  router.add('POST', '/_sim/meetings/:id/end', async (ctx) => {
    const m =
      state.meetings.get(ctx.params.id!) ??
      [...state.meetings.values()].find((x) => x.joinWebUrl === ctx.params.id);
    if (!m) throw new GraphHttpError(404, 'NotFound', 'No such meeting.');
    const body = (await ctx.rawBody()).length ? await ctx.body<{ recordingBytes?: number }>() : {};
    if (body.recordingBytes !== undefined) m.recordingBytes = body.recordingBytes;
    deps.endMeeting(m);
    sendJson(ctx.res, 200, {
      id: m.id,
      ended: m.ended,
      artifacts: [...state.artifacts.values()].filter((a) => a.meetingId === m.id),
    });
  });

  router.add('POST', '/_sim/faults', async (ctx) => {
    const fault = await ctx.body<Fault>();
    deps.faults.push({ ...fault, count: fault.count ?? 1 });
    sendJson(ctx.res, 201, deps.faults);
  });
  router.add('DELETE', '/_sim/faults', (ctx) => {
    deps.faults.length = 0;
    reply(ctx.res, 204);
  });

  router.add('POST', '/_sim/notifications/faults', async (ctx) => {
    delivery.setFaults(await ctx.body<{ drop?: number; duplicate?: number }>());
    reply(ctx.res, 204);
  });

  router.add('POST', '/_sim/subscriptions/:id/lifecycle', async (ctx) => {
    const s = state.subscriptions.get(ctx.params.id!);
    if (!s) throw new GraphHttpError(404, 'NotFound', 'No such subscription.');
    const { event } = await ctx.body<{
      event: 'reauthorizationRequired' | 'subscriptionRemoved' | 'missed';
    }>();
    if (!['reauthorizationRequired', 'subscriptionRemoved', 'missed'].includes(event))
      throw new GraphHttpError(400, 'BadRequest', 'Unknown lifecycle event.');
    if (!s.lifecycleNotificationUrl)
      throw new GraphHttpError(
        400,
        'BadRequest',
        'The subscription has no lifecycleNotificationUrl.',
      );
    if (event === 'subscriptionRemoved') state.subscriptions.delete(s.id);
    delivery.enqueue('lifecycle', s, lifecycleItem(s, event));
    reply(ctx.res, 202);
  });

  // Stands in for the Teams client's `authentication.getAuthToken()`: a delegated token for the
  // app's own API (tab SSO), for a user of the tenant and a registered app.
  router.add('POST', '/_sim/sso-token', async (ctx) => {
    const parsed = ssoTokenSchema.safeParse(await ctx.body());
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new GraphHttpError(400, 'BadRequest', `${issue.path.join('.')}: ${issue.message}`);
    }
    const r = parsed.data;
    const user = state.user(r.userId);
    if (!user) throw new GraphHttpError(404, 'NotFound', `No user ${r.userId} in the tenant.`);
    if (!state.app(r.clientId))
      throw new GraphHttpError(404, 'NotFound', `No app registration ${r.clientId}.`);
    const tenantId = r.tenantId ?? state.tenant.id;
    const token = await deps.identity.userToken({
      tenantId,
      user,
      version: r.version,
      audience: r.audience ?? (r.version === '2.0' ? r.clientId : `api://localhost/${r.clientId}`),
      scope: r.scope,
      v2Issuer: `${deps.baseUrl()}/${tenantId}/v2.0`,
      nowMs: r.issuedAt ? Date.parse(r.issuedAt) : clock.protocolNowMs(),
      lifetimeSeconds: r.lifetimeSeconds,
    });
    sendJson(ctx.res, 200, { token });
  });

  router.add('GET', '/_sim/requests', (ctx) => sendJson(ctx.res, 200, deps.requests));
  router.add('GET', '/_sim/deliveries', (ctx) => sendJson(ctx.res, 200, delivery.log));
  router.add('DELETE', '/_sim/logs', (ctx) => {
    deps.requests.length = 0;
    delivery.log.length = 0;
    reply(ctx.res, 204);
  });
}
