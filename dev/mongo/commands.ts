import { Long, calculateObjectSize, type Document } from 'bson';
import { Query } from 'mingo';
import { CommandError, badValue, codes, typeMismatch } from './errors.js';
import type { Engine, UpdateSpec } from './engine.js';
import { isPlainObject } from './values.js';

/** Fields the driver may add to any command. */
const GENERIC_FIELDS = new Set([
  '$db',
  'lsid',
  '$clusterTime',
  '$readPreference',
  'readConcern',
  'writeConcern',
  'maxTimeMS',
  'comment',
  'apiVersion',
  'apiStrict',
  'apiDeprecationErrors',
  'txnNumber',
  'autocommit',
  'startTransaction',
]);

/** Command-specific fields this server understands. Anything else is refused, as mongod does. */
const COMMAND_FIELDS: Record<string, string[]> = {
  hello: [],
  ping: [],
  buildInfo: [],
  endSessions: [],
  listDatabases: ['nameOnly', 'filter', 'authorizedDatabases'],
  insert: ['documents', 'ordered', 'bypassDocumentValidation'],
  find: [
    'filter',
    'sort',
    'projection',
    'skip',
    'limit',
    'batchSize',
    'singleBatch',
    'hint',
    'let',
    'noCursorTimeout',
  ],
  getMore: ['collection', 'batchSize'],
  killCursors: ['cursors'],
  update: ['updates', 'ordered', 'bypassDocumentValidation', 'let'],
  delete: ['deletes', 'ordered', 'let'],
  findAndModify: [
    'query',
    'sort',
    'remove',
    'update',
    'new',
    'fields',
    'upsert',
    'arrayFilters',
    'bypassDocumentValidation',
    'hint',
    'let',
  ],
  count: ['query', 'limit', 'skip', 'hint'],
  aggregate: [
    'pipeline',
    'cursor',
    'allowDiskUse',
    'explain',
    'hint',
    'let',
    'bypassDocumentValidation',
  ],
  createIndexes: ['indexes', 'commitQuorum'],
  listIndexes: ['cursor'],
  dropIndexes: ['index'],
  drop: [],
  dropDatabase: [],
  create: [],
  listCollections: ['filter', 'nameOnly', 'authorizedCollections', 'cursor'],
};

const ALIASES: Record<string, string> = {
  isMaster: 'hello',
  ismaster: 'hello',
  buildinfo: 'buildInfo',
};

const DEFAULT_FIRST_BATCH = 101;
/** Keep a reply well under the 16 MiB document limit. */
const MAX_BATCH_BYTES = 8 * 1024 * 1024;
/** mongod's default cursorTimeoutMillis. */
const CURSOR_IDLE_MS = 10 * 60 * 1000;

interface OpenCursor {
  ns: string;
  docs: Document[];
  lastUsed: number;
}

export interface CommandContext {
  connectionId: number;
  /** true when the request came as the legacy OP_QUERY `isMaster`. */
  legacy: boolean;
}

export interface CommandsOptions {
  engine: Engine;
  now: () => Date;
}

/** Executes commands against the engine, one at a time, and shapes replies like mongod 7. */
export class Commands {
  private readonly cursors = new Map<bigint, OpenCursor>();
  private nextCursorId = 1n;

  constructor(private readonly options: CommandsOptions) {}

  run(command: Document, ctx: CommandContext): Document {
    try {
      return this.dispatch(command, ctx);
    } catch (err) {
      if (err instanceof CommandError) return err.toReply();
      return {
        ok: 0,
        errmsg: `internal error: ${(err as Error).message}`,
        code: 1,
        codeName: 'InternalError',
      };
    }
  }

  /** Closes cursors idle for longer than mongod's default timeout. */
  reapCursors(): void {
    const cutoff = this.options.now().getTime() - CURSOR_IDLE_MS;
    for (const [id, c] of this.cursors) if (c.lastUsed < cutoff) this.cursors.delete(id);
  }

  private dispatch(cmd: Document, ctx: CommandContext): Document {
    const first = Object.keys(cmd)[0];
    if (!first) throw badValue('empty command');
    const name = ALIASES[first] ?? first;
    const allowed = COMMAND_FIELDS[name];
    if (!allowed) {
      throw new CommandError(
        codes.CommandNotFound,
        'CommandNotFound',
        `no such command: '${first}'`,
      );
    }
    // hello is not strict in mongod either: drivers add handshake fields freely.
    for (const field of name === 'hello' ? [] : Object.keys(cmd).slice(1)) {
      if (!GENERIC_FIELDS.has(field) && !allowed.includes(field)) {
        throw new CommandError(
          codes.UnknownField,
          'Location40415',
          `BSON field '${name}.${field}' is an unknown field.`,
        );
      }
    }
    if (cmd.txnNumber !== undefined || cmd.startTransaction !== undefined) {
      throw new CommandError(
        codes.IllegalOperation,
        'IllegalOperation',
        'Transaction numbers are only allowed on a replica set member or mongos',
      );
    }
    const db = cmd.$db ?? 'admin';
    if (typeof db !== 'string') throw typeMismatch('$db must be a string');
    const e = this.options.engine;
    const coll = (): string => {
      const v = cmd[first];
      if (typeof v !== 'string') {
        throw new CommandError(
          codes.InvalidNamespace,
          'InvalidNamespace',
          `collection name has invalid type ${typeof v}`,
        );
      }
      return v;
    };

    switch (name) {
      case 'hello':
        return this.hello(first, ctx);
      case 'ping':
        return { ok: 1 };
      case 'buildInfo':
        return {
          version: '7.0.0',
          versionArray: [7, 0, 0, 0],
          gitVersion: 'local',
          bits: 64,
          maxBsonObjectSize: 16777216,
          ok: 1,
        };
      case 'endSessions':
        return { ok: 1 };
      case 'listDatabases': {
        const databases = e
          .listDatabases()
          .map((d) => ({ name: d.name, sizeOnDisk: 0, empty: d.empty }));
        return { databases, totalSize: 0, ok: 1 };
      }
      case 'insert': {
        const docs = cmd.documents;
        if (!Array.isArray(docs))
          throw typeMismatch("BSON field 'insert.documents' is missing or not an array");
        const r = e.insert(db, coll(), docs, cmd.ordered !== false);
        return withWriteErrors({ n: r.n, ok: 1 }, r.writeErrors);
      }
      case 'find': {
        const filter = optionalDoc(cmd, 'filter') ?? {};
        const docs = e.find(db, coll(), filter, {
          sort: optionalDoc(cmd, 'sort'),
          projection: optionalDoc(cmd, 'projection'),
          skip: optionalInt(cmd, 'skip'),
          limit: optionalInt(cmd, 'limit'),
        });
        const batch = optionalInt(cmd, 'batchSize');
        return this.openCursor(
          `${db}.${coll()}`,
          docs,
          batch,
          cmd.singleBatch === true || (cmd.limit ?? 0) < 0,
        );
      }
      case 'getMore': {
        const raw = cmd.getMore;
        const id =
          typeof raw === 'number' ? BigInt(raw) : raw instanceof Long ? raw.toBigInt() : undefined;
        if (id === undefined) throw typeMismatch("Field 'getMore' must be of type long");
        const cursor = this.cursors.get(id);
        if (!cursor || cursor.ns !== `${db}.${String(cmd.collection)}`) {
          throw new CommandError(
            codes.CursorNotFound,
            'CursorNotFound',
            `cursor id ${id} not found`,
          );
        }
        cursor.lastUsed = this.options.now().getTime();
        const nextBatch = takeBatch(cursor.docs, optionalInt(cmd, 'batchSize') ?? 0);
        if (cursor.docs.length === 0) this.cursors.delete(id);
        return {
          cursor: { id: Long.fromBigInt(cursor.docs.length ? id : 0n), ns: cursor.ns, nextBatch },
          ok: 1,
        };
      }
      case 'killCursors': {
        const ids: unknown[] = Array.isArray(cmd.cursors) ? cmd.cursors : [];
        const killed: Long[] = [];
        const notFound: Long[] = [];
        for (const raw of ids) {
          const id = raw instanceof Long ? raw.toBigInt() : BigInt(raw as number);
          (this.cursors.delete(id) ? killed : notFound).push(Long.fromBigInt(id));
        }
        return {
          cursorsKilled: killed,
          cursorsNotFound: notFound,
          cursorsAlive: [],
          cursorsUnknown: [],
          ok: 1,
        };
      }
      case 'update': {
        const updates = cmd.updates;
        if (!Array.isArray(updates))
          throw typeMismatch("BSON field 'update.updates' is missing or not an array");
        const specs: UpdateSpec[] = updates.map((u: Document) => {
          for (const f of Object.keys(u)) {
            if (
              !['q', 'u', 'upsert', 'multi', 'arrayFilters', 'hint', 'collation', 'sort'].includes(
                f,
              )
            ) {
              throw new CommandError(
                codes.UnknownField,
                'Location40415',
                `BSON field 'update.updates.${f}' is an unknown field.`,
              );
            }
          }
          if (u.collation !== undefined) throw notSupported('collation');
          return {
            q: u.q ?? {},
            u: u.u,
            upsert: u.upsert === true,
            multi: u.multi === true,
            arrayFilters: u.arrayFilters,
            sort: u.sort,
          };
        });
        const r = e.update(db, coll(), specs, cmd.ordered !== false);
        const reply: Document = { n: r.n, nModified: r.nModified, ok: 1 };
        if (r.upserted.length) reply.upserted = r.upserted;
        return withWriteErrors(reply, r.writeErrors);
      }
      case 'delete': {
        const deletes = cmd.deletes;
        if (!Array.isArray(deletes))
          throw typeMismatch("BSON field 'delete.deletes' is missing or not an array");
        const specs = deletes.map((d: Document) => {
          if (d.collation !== undefined) throw notSupported('collation');
          if (d.limit !== 0 && d.limit !== 1)
            throw badValue('The limit field in delete objects must be 0 or 1');
          return { q: d.q ?? {}, limit: d.limit as number };
        });
        const r = e.delete(db, coll(), specs, cmd.ordered !== false);
        return withWriteErrors({ n: r.n, ok: 1 }, r.writeErrors);
      }
      case 'findAndModify': {
        const r = e.findAndModify(db, coll(), {
          query: optionalDoc(cmd, 'query') ?? {},
          sort: optionalDoc(cmd, 'sort'),
          remove: cmd.remove === true,
          update: cmd.update,
          upsert: cmd.upsert === true,
          returnNew: cmd.new === true,
          fields: optionalDoc(cmd, 'fields'),
          arrayFilters: cmd.arrayFilters,
        });
        return { lastErrorObject: r.lastErrorObject, value: r.value, ok: 1 };
      }
      case 'count': {
        const n = e.count(
          db,
          coll(),
          optionalDoc(cmd, 'query') ?? {},
          optionalInt(cmd, 'skip'),
          optionalInt(cmd, 'limit'),
        );
        return { n, ok: 1 };
      }
      case 'aggregate': {
        if (!Array.isArray(cmd.pipeline))
          throw typeMismatch("BSON field 'aggregate.pipeline' is missing or not an array");
        if (cmd.explain) throw notSupported('explain');
        if (!isPlainObject(cmd.cursor)) {
          throw new CommandError(
            codes.FailedToParse,
            'FailedToParse',
            "The 'cursor' option is required, except for aggregate with the explain argument",
          );
        }
        const docs = e.aggregate(db, coll(), cmd.pipeline);
        return this.openCursor(
          `${db}.${coll()}`,
          docs,
          optionalInt(cmd.cursor, 'batchSize'),
          false,
        );
      }
      case 'createIndexes': {
        if (!Array.isArray(cmd.indexes))
          throw typeMismatch("BSON field 'createIndexes.indexes' is missing or not an array");
        const [before, after, created] = e.createIndexes(db, coll(), cmd.indexes);
        const reply: Document = {
          numIndexesBefore: before,
          numIndexesAfter: after,
          createdCollectionAutomatically: created,
          ok: 1,
        };
        if (before === after) reply.note = 'all indexes already exist';
        return reply;
      }
      case 'listIndexes':
        return this.openCursor(
          `${db}.${coll()}`,
          e.listIndexes(db, coll()),
          optionalInt(cmd.cursor, 'batchSize'),
          false,
        );
      case 'dropIndexes':
        return { nIndexesWas: e.dropIndexes(db, coll(), cmd.index), ok: 1 };
      case 'drop': {
        const n = e.drop(db, coll());
        return { nIndexesWas: n, ns: `${db}.${coll()}`, ok: 1 };
      }
      case 'dropDatabase':
        e.dropDatabase(db);
        return { ok: 1 };
      case 'create':
        e.create(db, coll());
        return { ok: 1 };
      case 'listCollections': {
        let infos: Document[] = e.listCollections(db).map((c) => ({
          name: c.name,
          type: 'collection',
          options: c.options,
          info: { readOnly: false },
          idIndex: { v: 2, key: { _id: 1 }, name: '_id_' },
        }));
        const filter = optionalDoc(cmd, 'filter');
        if (filter && Object.keys(filter).length) {
          const query = new Query(filter);
          infos = infos.filter((i) => query.test(i));
        }
        if (cmd.nameOnly === true) infos = infos.map((i) => ({ name: i.name, type: i.type }));
        return this.openCursor(
          `${db}.$cmd.listCollections`,
          infos,
          optionalInt(cmd.cursor, 'batchSize'),
          false,
        );
      }
    }
    throw new CommandError(codes.CommandNotFound, 'CommandNotFound', `no such command: '${first}'`);
  }

  private hello(asked: string, ctx: CommandContext): Document {
    const reply: Document = {
      helloOk: true,
      maxBsonObjectSize: 16 * 1024 * 1024,
      maxMessageSizeBytes: 48_000_000,
      maxWriteBatchSize: 100_000,
      localTime: this.options.now(),
      logicalSessionTimeoutMinutes: 30,
      connectionId: ctx.connectionId,
      minWireVersion: 0,
      maxWireVersion: 21,
      readOnly: false,
      ok: 1,
    };
    // `hello` answers isWritablePrimary; the legacy names answer ismaster.
    if (asked === 'hello' && !ctx.legacy) reply.isWritablePrimary = true;
    else reply.ismaster = true;
    return reply;
  }

  private openCursor(
    ns: string,
    docs: Document[],
    batchSize: number | undefined,
    single: boolean,
  ): Document {
    const firstBatch = takeBatch(docs, batchSize ?? DEFAULT_FIRST_BATCH);
    let id = 0n;
    if (docs.length > 0 && !single) {
      id = this.nextCursorId++;
      this.cursors.set(id, { ns, docs, lastUsed: this.options.now().getTime() });
    }
    return { cursor: { id: Long.fromBigInt(id), ns, firstBatch }, ok: 1 };
  }
}

/** Removes and returns up to `n` documents (0 = as many as fit). */
function takeBatch(docs: Document[], n: number): Document[] {
  const out: Document[] = [];
  let bytes = 0;
  while (docs.length > 0 && (n <= 0 || out.length < n)) {
    const size = calculateObjectSize(docs[0]!);
    if (out.length > 0 && bytes + size > MAX_BATCH_BYTES) break;
    bytes += size;
    out.push(docs.shift()!);
  }
  return out;
}

function withWriteErrors(reply: Document, writeErrors: unknown[]): Document {
  if (writeErrors.length) reply.writeErrors = writeErrors;
  return reply;
}

function optionalDoc(cmd: Document, field: string): Document | undefined {
  const v = cmd[field];
  if (v === undefined || v === null) return undefined;
  if (!isPlainObject(v))
    throw typeMismatch(`BSON field '${field}' is the wrong type, expected type 'object'`);
  return v as Document;
}

function optionalInt(cmd: Document | undefined, field: string): number | undefined {
  const v = cmd?.[field];
  if (v === undefined || v === null) return undefined;
  const n = v instanceof Long ? v.toNumber() : v;
  if (typeof n !== 'number' || !Number.isFinite(n))
    throw typeMismatch(`BSON field '${field}' is the wrong type, expected a number`);
  return Math.trunc(n);
}

function notSupported(what: string): CommandError {
  return new CommandError(
    codes.NotImplemented,
    'NotImplemented',
    `${what} is not supported by the local MongoDB-compatible server`,
  );
}
