import { Agent, fetch } from 'undici';
import type { RunningGraphSim } from '../../dev/graph-sim/index.js';
import { APP_ID, APP_SECRET, ORGANIZER } from './graph.js';

/** A response body as JSON, or undefined when it is not JSON (tests assert on either). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function jsonOf(text: string): any {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

/** Raw HTTPS calls to the simulator (CA trusted), to pin exact statuses and bodies. */
export function simClient(sim: RunningGraphSim) {
  const dispatcher = new Agent({ connect: { ca: sim.ca } });
  async function request(
    method: string,
    path: string,
    init: {
      body?: unknown;
      token?: string;
      form?: Record<string, string>;
      headers?: Record<string, string>;
    } = {},
  ) {
    const headers: Record<string, string> = { ...init.headers };
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    } else if (init.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.body);
    }
    if (init.token) headers.authorization = `Bearer ${init.token}`;
    const res = await fetch(`${sim.url}${path}`, { method, headers, body, dispatcher });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: jsonOf(text) };
  }
  return {
    request,
    async token(clientId = APP_ID, secret = APP_SECRET): Promise<string> {
      const r = await request('POST', `/${sim.state.tenant.id}/oauth2/v2.0/token`, {
        form: {
          grant_type: 'client_credentials',
          client_id: clientId,
          client_secret: secret,
          scope: 'https://graph.microsoft.com/.default',
        },
      });
      if (r.status !== 200) throw new Error(`token: ${r.status} ${r.text}`);
      return r.json.access_token as string;
    },
    /**
     * Creates a calendar event with a Teams meeting for ORGANIZER (attendee: the learner) over
     * HTTPS and returns the simulator's meeting behind it.
     */
    async classMeeting(token: string, subject = 'Physics', hours = 1) {
      const ev = await request('POST', `/v1.0/users/${ORGANIZER}/events`, {
        token,
        body: {
          subject,
          start: { dateTime: '2030-03-02T09:00:00', timeZone: 'UTC' },
          end: {
            dateTime: `2030-03-02T${String(9 + hours).padStart(2, '0')}:00:00`,
            timeZone: 'UTC',
          },
          isOnlineMeeting: true,
          onlineMeetingProvider: 'teamsForBusiness',
          attendees: [{ emailAddress: { address: 'leo@test.example' } }],
        },
      });
      if (ev.status !== 201) throw new Error(`event: ${ev.status} ${ev.text}`);
      return sim.state.meetings.get(sim.state.events.get(ev.json.id)!.onlineMeetingId!)!;
    },
    close: () => dispatcher.close(),
  };
}
