import assert from 'node:assert/strict';
import { DEMO, demoTenant } from '../../dev/graph-sim/tenant.js';
import { readPlaygroundConfig } from '../support/playground.js';

/**
 * `.m365agentsplayground.yml` is the demo tenant as Teams shows it. If the two drift apart, the
 * Playground's people are unknown to the simulated Graph and scheduling fails in `npm start`.
 */
describe('.m365agentsplayground.yml matches the demo tenant', () => {
  const config = readPlaygroundConfig();
  const tenant = demoTenant();
  const team = tenant.teams.find((t) => t.id === DEMO.teamId)!;

  it('is the same tenant, and you type as the class instructor', () => {
    assert.equal(config.tenantId, DEMO.tenantId);
    assert.equal(config.currentUser.aadObjectId, DEMO.instructorId);
    assert.ok(team.owners.includes(config.currentUser.aadObjectId));
  });

  it('has the same people, with the same directory ids, names and emails', () => {
    const fromYaml = [config.currentUser, ...config.users]
      .map((u) => [u.aadObjectId, u.name, u.email])
      .sort();
    const fromTenant = tenant.users.map((u) => [u.id, u.displayName, u.mail]).sort();
    assert.deepEqual(fromYaml, fromTenant);
  });

  it('has the same class team and channels (General is the team id, as in Teams)', () => {
    assert.equal(config.team.aadGroupId, team.id);
    assert.equal(config.team.name, team.displayName);
    const general = team.channels.find((c) => c.displayName === 'General')!;
    assert.equal(config.team.id, general.id);
    assert.deepEqual(
      config.team.channels.map((c) => [c.id, c.name]),
      team.channels.filter((c) => c !== general).map((c) => [c.id, c.displayName]),
    );
  });

  it('stays within what the Playground accepts (five users besides you)', () => {
    assert.ok(config.users.length <= 5);
  });
});
