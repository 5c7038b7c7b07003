import assert from 'node:assert/strict';
import { eventually, startTestMongo, type TestMongo } from '../support/mongo.js';
import { startSyncWorld, type SyncWorld } from '../support/sync.js';

/** The subscription manager against the simulator: creation, renewal, lifecycle, the lease. */
describe('sync: subscription manager', function () {
  this.timeout(60_000);
  let mongo: TestMongo;
  let w: SyncWorld;

  before(async () => {
    mongo = await startTestMongo();
  });
  after(async () => {
    await mongo.stop();
  });
  afterEach(async () => {
    await w?.stop();
  });

  const lifecycle = (id: string, event: string) =>
    w.simHttp.request('POST', `/_sim/subscriptions/${id}/lifecycle`, { body: { event } });

  it('subscribes per organizer with a random clientState (only its hash stored), a lifecycle URL and a long expiry', async () => {
    w = await startSyncWorld(mongo);
    await w.startInstance();
    await w.schedule();
    await w.subscribed();
    const subs = [...w.sim.state.subscriptions.values()];
    assert.deepEqual(subs.map((s) => s.resource.split('/').at(-1)).sort(), [
      'getAllRecordings',
      'getAllTranscripts',
    ]);
    for (const s of subs) {
      assert.match(s.notificationUrl, /\/api\/notifications$/);
      assert.match(s.lifecycleNotificationUrl!, /\/api\/lifecycle$/);
      assert.ok(s.clientState!.length >= 32);
      const left = s.expirationDateTime.getTime() - w.sim.clock.protocolNowMs();
      assert.ok(left > 4200 * 60_000, `expiry near the 4320-minute maximum (${left / 60_000} min)`);
    }
    const stored = await w.store.db.collection('subscriptions').find({}).toArray();
    assert.equal(stored.length, 2);
    const secrets = subs.map((s) => s.clientState!);
    assert.ok(
      stored.every((d) => secrets.every((c) => !JSON.stringify(d).includes(c))),
      'the clientState itself is never stored',
    );
  });

  it('renews a subscription near expiry, and reacts to each lifecycle event', async () => {
    w = await startSyncWorld(mongo);
    const { runtime } = await w.startInstance();
    await w.schedule();
    await w.subscribed();
    const manager = runtime.subscriptions!;
    const [rec] = [...w.sim.state.subscriptions.values()].filter((s) =>
      s.resource.endsWith('getAllRecordings'),
    );
    const firstExpiry = rec!.expirationDateTime.getTime();
    // Two and a half days later it is inside the renewal window.
    w.sim.clock.advance(60 * 3600_000);
    // Renewed by this round or by the background one that may have come first.
    await manager.tick();
    assert.ok(w.sim.state.subscriptions.get(rec!.id)!.expirationDateTime.getTime() > firstExpiry);

    // reauthorizationRequired: the app calls /reauthorize.
    await lifecycle(rec!.id, 'reauthorizationRequired');
    assert.ok(
      await eventually(
        async () =>
          w.sim.requests.some(
            (r) => r.method === 'POST' && r.path.endsWith(`${rec!.id}/reauthorize`),
          ),
        10_000,
      ),
      'reauthorized',
    );
    // missed: a resync runs (the reconciler records its reason).
    await lifecycle(rec!.id, 'missed');
    assert.ok(
      await eventually(
        async () =>
          /missed/.test(String((await w.store.stats.get('reconcile.last'))?.value?.reason)),
        10_000,
      ),
      'resynced',
    );
    // subscriptionRemoved: recreated (a new id for the same resource), then resynced.
    await lifecycle(rec!.id, 'subscriptionRemoved');
    assert.ok(
      await eventually(async () => {
        const now = [...w.sim.state.subscriptions.values()].filter((s) =>
          s.resource.endsWith('getAllRecordings'),
        );
        return now.length === 1 && now[0]!.id !== rec!.id;
      }, 10_000),
      'recreated',
    );
    const stored = await w.store.db
      .collection('subscriptions')
      .find({ resource: rec!.resource })
      .toArray();
    assert.equal(stored.length, 1);
    assert.notEqual(stored[0]!._id, rec!.id);
  });

  it('recreates a subscription Graph no longer has when renewing it (404)', async () => {
    w = await startSyncWorld(mongo);
    const { runtime } = await w.startInstance();
    await w.schedule();
    await w.subscribed();
    const [rec] = [...w.sim.state.subscriptions.values()].filter((s) =>
      s.resource.endsWith('getAllRecordings'),
    );
    w.sim.state.subscriptions.delete(rec!.id); // gone on Graph's side
    w.sim.clock.advance(60 * 3600_000);
    // Recreated by this round or by the background one that may have come first.
    await runtime.subscriptions!.tick();
    assert.equal(
      [...w.sim.state.subscriptions.values()].filter((s) => s.resource === rec!.resource).length,
      1,
    );
  });

  it('recreates a removed subscription once, even when the event is handled twice at once', async () => {
    w = await startSyncWorld(mongo);
    const a = await w.startInstance();
    const b = await w.startInstance();
    await w.schedule();
    await w.subscribed();
    const [rec] = [...w.sim.state.subscriptions.values()].filter((s) =>
      s.resource.endsWith('getAllRecordings'),
    );
    w.sim.state.subscriptions.delete(rec!.id);
    await Promise.all([
      a.runtime.subscriptions!.handleLifecycle(rec!.id, 'subscriptionRemoved'),
      b.runtime.subscriptions!.handleLifecycle(rec!.id, 'subscriptionRemoved'),
    ]);
    assert.equal(
      [...w.sim.state.subscriptions.values()].filter((s) => s.resource === rec!.resource).length,
      1,
    );
  });

  it('lets one instance manage subscriptions at a time, and another take over when it dies', async () => {
    w = await startSyncWorld(mongo);
    const a = await w.startInstance();
    const b = await w.startInstance();
    await w.schedule();
    await w.subscribed();
    const ra = await a.runtime.subscriptions!.tick();
    const rb = await b.runtime.subscriptions!.tick();
    assert.equal([ra.leader, rb.leader].filter(Boolean).length, 1, 'exactly one leader');
    const [leader, follower] = ra.leader ? [a, b] : [b, a];
    // The leader dies (it stops renewing its lease); after the lease runs out the other leads.
    await leader.app.stop();
    w.apps.splice(w.apps.indexOf(leader), 1);
    await w.store.db.collection('leases').updateOne({}, { $set: { expiresAt: new Date(0) } });
    const after = await follower.runtime.subscriptions!.tick();
    assert.equal(after.leader, true);
    assert.equal(w.sim.state.subscriptions.size, 2, 'no duplicate subscriptions');
  });
});
