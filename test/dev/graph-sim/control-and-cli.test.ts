import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { APP_ID, ORGANIZER, startSim, testTenant, type SimHandle } from '../../support/graph.js';
import { tempDir } from '../../support/mongo.js';
import { simClient } from '../../support/sim-http.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

describe('dev/graph-sim: control API and command line', () => {
  let h: SimHandle;
  let api: ReturnType<typeof simClient>;

  beforeEach(async () => {
    h = await startSim();
    api = simClient(h.sim);
  });
  afterEach(async () => {
    await api.close();
    await h.stop();
  });

  it('replaces the tenant: users, teams, permissions and access policies take effect at once', async () => {
    const tenant = testTenant({ id: h.sim.state.tenant.id });
    tenant.apps[0]!.roles = ['Calendars.ReadWrite'];
    tenant.teams = [
      {
        id: 'team-1',
        displayName: 'Chemistry',
        members: [ORGANIZER],
        owners: [ORGANIZER],
        channels: [{ id: '19:c@thread.tacv2', displayName: 'General' }],
      },
    ];
    const put = await api.request('PUT', '/_sim/tenant', { body: tenant });
    assert.equal(put.status, 200);
    const bad = await api.request('PUT', '/_sim/tenant', {
      body: { ...tenant, apps: [{ clientId: 'x' }] },
    });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error.message, /^tenant\.apps\.0\./);
    const state = await api.request('GET', '/_sim/state');
    assert.equal(state.json.tenant.teams[0].displayName, 'Chemistry');
    const token = await api.token();
    const meetings = await api.request(
      'GET',
      `/v1.0/users/${ORGANIZER}/onlineMeetings?$filter=${encodeURIComponent("JoinWebUrl eq 'x'")}`,
      { token },
    );
    assert.equal(meetings.status, 403, 'the new permission set applies');
  });

  it('injects 503 and latency faults, and lists the requests that arrived', async () => {
    const token = await api.token();
    assert.equal(
      (
        await api.request('POST', '/_sim/faults', {
          body: { path: '/subscriptions', status: 503, retryAfterSeconds: 2, count: 1 },
        })
      ).status,
      201,
    );
    const failed = await api.request('GET', '/v1.0/subscriptions', { token });
    assert.equal(failed.status, 503);
    assert.equal(failed.headers.get('retry-after'), '2');
    assert.equal(failed.json.error.code, 'ServiceUnavailable');
    assert.equal(
      (await api.request('GET', '/v1.0/subscriptions', { token })).status,
      200,
      'the fault applied once',
    );
    await api.request('POST', '/_sim/faults', { body: { path: '/subscriptions', latencyMs: 300 } });
    const started = Date.now();
    assert.equal((await api.request('GET', '/v1.0/subscriptions', { token })).status, 200);
    assert.ok(Date.now() - started >= 300, 'latency added');
    const requests = await api.request('GET', '/_sim/requests');
    assert.deepEqual(
      requests.json
        .filter((r: { path: string }) => r.path === '/v1.0/subscriptions')
        .map((r: { status: number }) => r.status),
      [503, 200, 200],
    );
    assert.equal((await api.request('DELETE', '/_sim/logs')).status, 204);
    assert.deepEqual((await api.request('GET', '/_sim/requests')).json, []);
    void APP_ID;
  });

  it('keeps the control API off the Graph paths', async () => {
    const r = await api.request('GET', '/v1.0/_sim/state', { token: await api.token() });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'BadRequest');
  });

  it('runs on its own and prints its URL, authority and CA path', async function () {
    this.timeout(30_000);
    const tls = tempDir('cr-sim-cli-');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'dev/graph-sim/main.ts', '--port', '0', '--tls-dir', tls.dir],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) resolve(out);
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}`)));
      });
      assert.match(
        line,
        /^graph-sim: https:\/\/127\.0\.0\.1:\d+ \(authority https:\/\/127\.0\.0\.1:\d+\/[0-9a-f-]{36}, CA .+ca\.pem\)/,
      );
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      tls.remove();
    }
  });
});
