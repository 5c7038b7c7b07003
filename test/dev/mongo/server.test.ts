import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { MongoClient, MongoServerError, ObjectId, type Db } from 'mongodb';
import { startMongoServer, type RunningMongoServer } from '../../../dev/mongo/index.js';
import { tempDir } from '../../support/mongo.js';

/**
 * What the local server owns beyond the shared store contract: mongod's error shapes for
 * what it does not support, persistence and crash safety, and TTL against an injected clock.
 */
describe('dev/mongo: local MongoDB-compatible server', () => {
  let tmp: ReturnType<typeof tempDir>;
  let server: RunningMongoServer;
  let client: MongoClient;
  let db: Db;
  let clock: Date;

  /** Opens the server on the test's data dir and a client to it. */
  async function open(): Promise<void> {
    server = await startMongoServer({
      dbPath: tmp.dir,
      now: () => clock,
      ttlIntervalMs: 3_600_000,
    });
    client = new MongoClient(server.uri, { serverSelectionTimeoutMS: 2000 });
    db = client.db('unit');
  }

  async function shut(): Promise<void> {
    await client.close();
    await server.close();
  }

  async function restart(): Promise<void> {
    await shut();
    await open();
  }

  beforeEach(async () => {
    tmp = tempDir();
    clock = new Date('2026-01-01T00:00:00Z');
    await open();
  });
  afterEach(async () => {
    await shut();
    tmp.remove();
  });

  describe('protocol and errors', () => {
    it('answers an unknown command with code 59 CommandNotFound', async () => {
      await assert.rejects(db.command({ frobnicate: 1 }), (err: unknown) => {
        assert.ok(err instanceof MongoServerError);
        assert.equal(err.code, 59);
        assert.equal(err.codeName, 'CommandNotFound');
        assert.match(err.message, /no such command: 'frobnicate'/);
        return true;
      });
    });

    it('refuses unknown fields instead of ignoring them', async () => {
      await assert.rejects(
        db.command({ find: 'c', filter: {}, bogus: 1 }),
        (err: MongoServerError) => err.code === 40415 && /find\.bogus/.test(err.message),
      );
    });

    it('refuses what it does not implement (collation, $out) rather than doing it wrong', async () => {
      await db.collection('c').insertOne({ a: 'x' });
      await assert.rejects(
        db
          .collection('c')
          .updateOne({ a: 'X' }, { $set: { b: 1 } }, { collation: { locale: 'en', strength: 2 } }),
        MongoServerError,
      );
      await assert.rejects(
        db
          .collection('c')
          .aggregate([{ $out: 'other' }])
          .toArray(),
        (err: MongoServerError) => err.code === 238,
      );
    });

    it('refuses transactions as a standalone mongod does', async () => {
      const session = client.startSession();
      try {
        await assert.rejects(
          session.withTransaction(async () => {
            await db.collection('c').insertOne({ a: 1 }, { session });
          }),
          // The driver rewrites mongod's answer; the server's own error is kept as originalError.
          (err: MongoServerError) =>
            (err.errorResponse as { originalError?: MongoServerError }).originalError?.code === 20,
        );
      } finally {
        await session.endSession();
      }
    });

    it("reports duplicate keys with mongod's E11000 shape on insert, update and findAndModify", async () => {
      const c = db.collection('users');
      await c.createIndex({ email: 1 }, { unique: true });
      await c.insertMany([{ email: 'a@school.example' }, { email: 'b@school.example' }]);
      await assert.rejects(c.insertOne({ email: 'a@school.example' }), (err: MongoServerError) => {
        assert.equal(err.code, 11000);
        assert.equal(
          err.message,
          'E11000 duplicate key error collection: unit.users index: email_1 dup key: { email: "a@school.example" }',
        );
        assert.deepEqual(err.keyValue, { email: 'a@school.example' });
        return true;
      });
      await assert.rejects(
        c.updateOne({ email: 'b@school.example' }, { $set: { email: 'a@school.example' } }),
        (err: MongoServerError) => err.code === 11000,
      );
      await assert.rejects(
        c.findOneAndUpdate({ email: 'b@school.example' }, { $set: { email: 'a@school.example' } }),
        (err: MongoServerError) => err.code === 11000 && err.codeName === 'DuplicateKey',
      );
      const id = new ObjectId();
      await c.insertOne({ _id: id, email: 'c@school.example' });
      await assert.rejects(
        c.insertOne({ _id: id, email: 'd@school.example' }),
        (err: MongoServerError) => /index: _id_ dup key: \{ _id: ObjectId\('/.test(err.message),
      );
    });

    it('continues an unordered insert past duplicates and reports each one', async () => {
      const c = db.collection('u');
      await c.createIndex({ k: 1 }, { unique: true });
      const err = await c
        .insertMany([{ k: 1 }, { k: 1 }, { k: 2 }, { k: 2 }], { ordered: false })
        .catch((e: unknown) => e);
      assert.equal((err as { insertedCount: number }).insertedCount, 2);
      assert.equal(await c.countDocuments(), 2);
    });

    it('refuses a unique index over existing duplicates and conflicting index options', async () => {
      const c = db.collection('d');
      await c.insertMany([{ k: 1 }, { k: 1 }]);
      await assert.rejects(
        c.createIndex({ k: 1 }, { unique: true }),
        (err: MongoServerError) => err.code === 11000,
      );
      await c.createIndex({ j: 1 }, { name: 'j' });
      await assert.rejects(
        c.createIndex({ j: 1 }, { name: 'j', unique: true }),
        (err: MongoServerError) => err.code === 85 || err.code === 86,
      );
      await assert.rejects(
        c.createIndex({ j: 1, k: 1 }, { name: 'j' }),
        (err: MongoServerError) => err.code === 86,
      );
      await assert.rejects(c.dropIndex('nope'), (err: MongoServerError) => err.code === 27);
    });

    it('pages large results through getMore and kills abandoned cursors', async () => {
      const c = db.collection('many');
      await c.insertMany(Array.from({ length: 350 }, (_, i) => ({ i })));
      const all = await c.find({}, { batchSize: 40 }).sort({ i: 1 }).toArray();
      assert.equal(all.length, 350);
      assert.equal(all[349]?.i, 349);
      const cursor = c.find({}).batchSize(10);
      await cursor.next();
      await cursor.close(); // sends killCursors
      assert.deepEqual(
        await c
          .find({ i: { $gte: 10 } })
          .sort({ i: -1 })
          .skip(5)
          .limit(3)
          .project({ _id: 0 })
          .toArray(),
        [{ i: 344 }, { i: 343 }, { i: 342 }],
      );
    });

    it('implements the aggregation stages the app uses', async () => {
      const c = db.collection('agg');
      await c.insertMany([
        { s: 'a', n: 1 },
        { s: 'a', n: 2 },
        { s: 'b', n: 5 },
      ]);
      const rows = await c
        .aggregate([
          { $match: { n: { $gte: 1 } } },
          { $group: { _id: '$s', total: { $sum: '$n' } } },
          { $sort: { total: -1 } },
          { $project: { _id: 0, s: '$_id', total: 1 } },
          { $skip: 0 },
          { $limit: 5 },
        ])
        .toArray();
      assert.deepEqual(rows, [
        { total: 5, s: 'b' },
        { total: 3, s: 'a' },
      ]);
      assert.deepEqual(await c.aggregate([{ $match: { s: 'a' } }, { $count: 'n' }]).toArray(), [
        { n: 2 },
      ]);
      assert.equal(await c.countDocuments({ s: 'a' }), 2);
      assert.equal(await c.estimatedDocumentCount(), 3);
    });

    it('upserts with $setOnInsert and query equality fields, and keeps _id first', async () => {
      const c = db.collection('up');
      const r = await c.findOneAndUpdate(
        { key: 'k', 'nested.x': 1 },
        { $set: { v: 1 }, $setOnInsert: { created: true } },
        { upsert: true, returnDocument: 'after' },
      );
      assert.deepEqual(Object.keys(r!), ['_id', 'key', 'nested', 'v', 'created']);
      const again = await c.findOneAndUpdate(
        { key: 'k' },
        { $set: { v: 2 }, $setOnInsert: { created: false } },
        { returnDocument: 'after' },
      );
      assert.equal(again?.created, true);
      assert.equal(again?.v, 2);
      const u = await c.updateOne({ key: 'k' }, { $set: { v: 2 } });
      assert.equal(u.modifiedCount, 0, 'no-op updates are not modifications');
      await assert.rejects(
        c.updateOne({ key: 'k' }, { $set: { _id: 'other' } }),
        (err: MongoServerError) => err.code === 66,
      );
    });

    it('manages collections and databases', async () => {
      await db.createCollection('made');
      await assert.rejects(db.createCollection('made'), (err: MongoServerError) => err.code === 48);
      assert.deepEqual(
        (await db.listCollections({ name: 'made' }).toArray()).map((c) => c.name),
        ['made'],
      );
      assert.equal(await db.collection('made').drop(), true);
      assert.deepEqual(await db.listCollections({}, { nameOnly: true }).toArray(), []);
      await db.collection('x').insertOne({});
      assert.ok(
        (await client.db().admin().listDatabases()).databases.some((d) => d.name === 'unit'),
      );
      await db.dropDatabase();
      assert.deepEqual(await db.listCollections().toArray(), []);
    });

    it('closes a connection that sends a malformed message, and keeps serving others', async () => {
      const socket = net.connect(server.port, server.host);
      await new Promise((r) => socket.once('connect', r));
      const closed = new Promise((r) => socket.once('close', r));
      const junk = Buffer.alloc(20);
      junk.writeInt32LE(20, 0);
      junk.writeInt32LE(9999, 12); // unknown opcode
      socket.write(junk);
      await closed;
      assert.deepEqual(await db.command({ ping: 1 }), { ok: 1 });
    });
  });

  describe('TTL', () => {
    it('removes documents whose indexed date is older than expireAfterSeconds, and only those', async () => {
      const c = db.collection('ttl');
      await c.createIndex({ at: 1 }, { expireAfterSeconds: 60 });
      await c.insertMany([
        { name: 'old', at: new Date(clock.getTime() - 61_000) },
        { name: 'fresh', at: new Date(clock.getTime() - 10_000) },
        { name: 'no-date', at: 'yesterday' },
        { name: 'missing' },
      ]);
      assert.equal(server.expireNow(), 1);
      assert.deepEqual(
        (await c.find({}).toArray()).map((d) => d.name),
        ['fresh', 'no-date', 'missing'],
      );
      clock = new Date(clock.getTime() + 60_000);
      assert.equal(server.expireNow(), 1);
      assert.deepEqual(
        (await c.find({}).toArray()).map((d) => d.name),
        ['no-date', 'missing'],
      );
    });
  });

  describe('persistence', () => {
    it('keeps data, indexes and unique constraints across a restart', async () => {
      const c = db.collection('p');
      await c.createIndex({ k: 1 }, { unique: true, name: 'k_unique' });
      await c.insertMany([{ k: 1 }, { k: 2 }]);
      await c.updateOne({ k: 2 }, { $set: { v: 'x' } });
      await c.deleteOne({ k: 1 });
      await restart();
      const p = db.collection('p');
      assert.deepEqual(await p.find({}, { projection: { _id: 0 } }).toArray(), [{ k: 2, v: 'x' }]);
      assert.ok((await p.indexes()).some((i) => i.name === 'k_unique' && i.unique));
      await assert.rejects(p.insertOne({ k: 2 }), (err: MongoServerError) => err.code === 11000);
    });

    it('drops a torn final journal record and keeps everything before it', async () => {
      await db.collection('j').insertMany([{ n: 1 }, { n: 2 }]);
      await client.close();
      await server.close();
      const journal = path.join(tmp.dir, 'journal.bin');
      fs.appendFileSync(journal, Buffer.from([200, 0, 0, 0, 1, 2, 3, 4, 5, 6])); // a half-written record
      server = await startMongoServer({ dbPath: tmp.dir, now: () => clock });
      client = new MongoClient(server.uri, { serverSelectionTimeoutMS: 2000 });
      db = client.db('unit');
      assert.deepEqual(
        await db
          .collection('j')
          .find({}, { projection: { _id: 0 } })
          .toArray(),
        [{ n: 1 }, { n: 2 }],
      );
      await db.collection('j').insertOne({ n: 3 });
      await restart();
      assert.equal(await db.collection('j').countDocuments(), 3);
    });

    it('compacts the journal into a snapshot without losing anything', async () => {
      await client.close();
      await server.close();
      const { Engine } = await import('../../../dev/mongo/index.js');
      const { Journal } = await import('../../../dev/mongo/journal.js');
      const engine = new Engine(new Journal({ dir: tmp.dir, fsync: false, compactBytes: 4096 }));
      for (let i = 0; i < 200; i++)
        engine.insert('unit', 'big', [{ i, pad: 'x'.repeat(100) }], true);
      engine.close();
      assert.ok(fs.existsSync(path.join(tmp.dir, 'snapshot.bin')), 'a snapshot was written');
      assert.ok(
        fs.statSync(path.join(tmp.dir, 'journal.bin')).size < 4096 + 512,
        'journal was truncated',
      );
      server = await startMongoServer({ dbPath: tmp.dir, now: () => clock });
      client = new MongoClient(server.uri, { serverSelectionTimeoutMS: 2000 });
      db = client.db('unit');
      assert.equal(await db.collection('big').countDocuments(), 200);
    });

    it('refuses a data directory another live process holds', async () => {
      const lock = path.join(tmp.dir, 'mongod.lock');
      await client.close();
      await server.close();
      fs.writeFileSync(lock, String(process.ppid)); // a live process that is not us
      await assert.rejects(startMongoServer({ dbPath: tmp.dir }), /in use by process/);
      fs.writeFileSync(lock, '999999999'); // stale: no such process
      server = await startMongoServer({ dbPath: tmp.dir });
      client = new MongoClient(server.uri, { serverSelectionTimeoutMS: 2000 });
    });
  });
});
