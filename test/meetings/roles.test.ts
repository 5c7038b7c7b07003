import assert from 'node:assert/strict';
import type { GraphApi } from '../../src/graph/index.js';
import { Roles } from '../../src/meetings/index.js';
import { LEARNER, ORGANIZER, graphFor, startSim, type SimHandle } from '../support/graph.js';
import { simClient } from '../support/sim-http.js';

const TEAM = '7d1c0b8e-2f43-4c0e-9a8b-1f2e3d4c5b6a';
const GROUP = '3e9a7c1d-5b2f-4e8a-b1c3-9d8e7f6a5b4c';

describe('meetings: roles from Graph (team owners, instructor and admin groups)', () => {
  let h: SimHandle;
  let graph: GraphApi;

  beforeEach(async () => {
    h = await startSim();
    h.sim.state.tenant.teams = [
      {
        id: TEAM,
        displayName: 'Biology',
        owners: [ORGANIZER],
        members: [ORGANIZER, LEARNER],
        channels: [],
      },
    ];
    h.sim.state.tenant.groups = [{ id: GROUP, displayName: 'Staff', members: [LEARNER] }];
    h.sim.state.tenant.apps[0]!.roles.push('TeamMember.Read.All', 'GroupMember.Read.All');
    graph = graphFor(h.sim);
  });
  afterEach(async () => {
    await graph.close();
    await h.stop();
  });

  it('allows team owners and instructor-group members, and nobody else', async () => {
    const roles = new Roles({ graph, instructorGroupId: GROUP });
    assert.deepEqual(await roles.canSchedule(ORGANIZER, TEAM), {
      allowed: true,
      via: 'team-owner',
    });
    assert.deepEqual(await roles.canSchedule(LEARNER, TEAM), {
      allowed: true,
      via: 'instructor-group',
    });
    const ownersOnly = new Roles({ graph });
    assert.deepEqual(await ownersOnly.canSchedule(LEARNER, TEAM), { allowed: false, via: 'none' });
    assert.deepEqual(
      await ownersOnly.canSchedule(ORGANIZER, undefined),
      { allowed: false, via: 'none' },
      'no team, no group: no',
    );
  });

  it('knows admins by the admin group', async () => {
    const roles = new Roles({ graph, adminGroupId: GROUP });
    assert.equal((await roles.isAdmin(LEARNER)).allowed, true);
    assert.equal((await roles.isAdmin(ORGANIZER)).allowed, false);
    assert.equal(
      (await new Roles({ graph }).isAdmin(LEARNER)).allowed,
      false,
      'no admin group configured',
    );
  });

  it('caches answers briefly, then asks Graph again', async () => {
    let now = 0;
    const roles = new Roles({ graph, cacheTtlMs: 1000, now: () => now });
    const calls = () =>
      h.sim.requests.filter((r) => r.path.startsWith(`/v1.0/teams/${TEAM}/members`)).length;
    await roles.canSchedule(ORGANIZER, TEAM);
    await roles.canSchedule(ORGANIZER, TEAM);
    assert.equal(calls(), 1);
    // Another member of the same team: the team's member list is cached, not each answer only.
    await roles.canSchedule(LEARNER, TEAM);
    assert.equal(calls(), 1);
    now = 1000;
    await roles.canSchedule(ORGANIZER, TEAM);
    assert.equal(calls(), 2);
  });

  it('simulator: team members carry owner roles; unknown teams 404; both calls need their permission', async () => {
    const api = simClient(h.sim);
    try {
      const token = await api.token();
      const members = await api.request('GET', `/v1.0/teams/${TEAM}/members`, { token });
      assert.deepEqual(
        members.json.value.map((m: { userId: string; roles: string[] }) => [m.userId, m.roles]),
        [
          [ORGANIZER, ['owner']],
          [LEARNER, []],
        ],
      );
      assert.equal((await api.request('GET', '/v1.0/teams/nope/members', { token })).status, 404);
      const check = await api.request('POST', `/v1.0/users/${LEARNER}/checkMemberGroups`, {
        token,
        body: { groupIds: [GROUP, TEAM, 'other'] },
      });
      assert.deepEqual(check.json.value, [GROUP, TEAM]);
      assert.equal(
        (
          await api.request('POST', `/v1.0/users/${LEARNER}/checkMemberGroups`, {
            token,
            body: { groupIds: [] },
          })
        ).status,
        400,
      );
      h.sim.state.tenant.apps[0]!.roles = ['Calendars.ReadWrite'];
      const weak = await api.token();
      assert.equal(
        (await api.request('GET', `/v1.0/teams/${TEAM}/members`, { token: weak })).status,
        403,
      );
      assert.equal(
        (
          await api.request('POST', `/v1.0/users/${LEARNER}/checkMemberGroups`, {
            token: weak,
            body: { groupIds: [GROUP] },
          })
        ).status,
        403,
      );
    } finally {
      await api.close();
    }
  });
});
