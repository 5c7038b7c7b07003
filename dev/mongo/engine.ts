import { ObjectId, type Document } from 'bson';
import { Aggregator, Query, update as applyUpdate } from 'mingo';
import { CommandError, badValue, codes } from './errors.js';
import type { Journal, JournalRecord } from './journal.js';
import { cloneValue, formatKeyValue, getPath, isPlainObject, keyOf, setPath } from './values.js';

/** An index as `listIndexes` reports it. */
export interface IndexSpec {
  v: 2;
  key: Record<string, number | string>;
  name: string;
  unique?: boolean;
  sparse?: boolean;
  expireAfterSeconds?: number;
  partialFilterExpression?: Document;
}

const INDEX_OPTIONS = new Set([
  'key',
  'name',
  'unique',
  'sparse',
  'expireAfterSeconds',
  'partialFilterExpression',
  'v',
  'background',
]);

const ID_INDEX: IndexSpec = { v: 2, key: { _id: 1 }, name: '_id_' };

class Collection {
  readonly docs = new Map<string, Document>();
  readonly indexes = new Map<string, IndexSpec>([['_id_', ID_INDEX]]);
  /** For each unique index: index key → `_id` key of the document holding it. */
  readonly unique = new Map<string, Map<string, string>>();
}

export interface WriteError {
  index: number;
  code: number;
  errmsg: string;
  [extra: string]: unknown;
}

export interface FindOptions {
  sort?: Document;
  projection?: Document;
  skip?: number;
  limit?: number;
}

export interface UpdateSpec {
  q: Document;
  u: Document | Document[];
  upsert?: boolean;
  multi?: boolean;
  arrayFilters?: Document[];
  sort?: Document;
}

export interface UpdateOutcome {
  matched: number;
  modified: number;
  upsertedId?: unknown;
  /** The document before (or after, per `returnNew`) the change, for findAndModify. */
  before?: Document;
  after?: Document;
}

function isOperatorDoc(u: Document): boolean {
  const keys = Object.keys(u);
  const ops = keys.filter((k) => k.startsWith('$'));
  if (ops.length > 0 && ops.length !== keys.length) {
    throw new CommandError(
      codes.FailedToParse,
      'FailedToParse',
      'update document mixes update operators and plain fields',
    );
  }
  return ops.length > 0;
}

/** Wraps mingo's exceptions in the error the driver expects from a bad query or update. */
function guarded<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof CommandError) throw err;
    const message = (err as Error).message;
    if (/immutable field '_id'/.test(message))
      throw new CommandError(66, 'ImmutableField', message);
    throw badValue(message);
  }
}

function validateName(db: string, coll?: string): void {
  if (!db || /[/\\. "$\0]/.test(db)) {
    throw new CommandError(
      codes.InvalidNamespace,
      'InvalidNamespace',
      `Invalid database name: '${db}'`,
    );
  }
  if (
    coll !== undefined &&
    (!coll || coll.includes('$') || coll.includes('\0') || coll.startsWith('system.'))
  ) {
    throw new CommandError(
      codes.InvalidNamespace,
      'InvalidNamespace',
      `Invalid collection name: ${coll}`,
    );
  }
}

/**
 * The in-memory data set of the local server, with every change written through a journal.
 * Query, update and aggregation semantics come from mingo; this class adds what a server owns:
 * namespaces, `_id`, unique and TTL indexes, upserts and durability.
 */
export class Engine {
  private readonly dbs = new Map<string, Map<string, Collection>>();

  constructor(private readonly journal?: Journal) {
    if (journal) for (const record of journal.open()) this.replay(record);
  }

  close(): void {
    this.journal?.close();
  }

  // ---- namespaces -------------------------------------------------------------------------

  private collection(db: string, coll: string): Collection | undefined {
    return this.dbs.get(db)?.get(coll);
  }

  /** Gets or implicitly creates a collection, as mongod does on first write. */
  private ensureCollection(db: string, coll: string, records: JournalRecord[]): Collection {
    validateName(db, coll);
    let database = this.dbs.get(db);
    if (!database) {
      database = new Map();
      this.dbs.set(db, database);
    }
    let c = database.get(coll);
    if (!c) {
      c = new Collection();
      c.unique.set('_id_', new Map());
      database.set(coll, c);
      records.push({ op: 'createColl', db, coll });
    }
    return c;
  }

  listDatabases(): { name: string; empty: boolean }[] {
    return [...this.dbs.entries()].map(([name, colls]) => ({
      name,
      empty: [...colls.values()].every((c) => c.docs.size === 0),
    }));
  }

  listCollections(db: string): { name: string; options: Document }[] {
    return [...(this.dbs.get(db)?.keys() ?? [])].map((name) => ({ name, options: {} }));
  }

  create(db: string, coll: string): void {
    if (this.collection(db, coll)) {
      throw new CommandError(
        codes.NamespaceExists,
        'NamespaceExists',
        `Collection ${db}.${coll} already exists.`,
      );
    }
    const records: JournalRecord[] = [];
    this.ensureCollection(db, coll, records);
    this.commit(records);
  }

  drop(db: string, coll: string): number {
    const c = this.collection(db, coll);
    if (!c) throw new CommandError(codes.NamespaceNotFound, 'NamespaceNotFound', 'ns not found');
    this.dbs.get(db)!.delete(coll);
    this.commit([{ op: 'dropColl', db, coll }]);
    return c.indexes.size;
  }

  dropDatabase(db: string): void {
    if (this.dbs.delete(db)) this.commit([{ op: 'dropDb', db }]);
  }

  // ---- indexes ----------------------------------------------------------------------------

  listIndexes(db: string, coll: string): IndexSpec[] {
    const c = this.collection(db, coll);
    if (!c) {
      throw new CommandError(
        codes.NamespaceNotFound,
        'NamespaceNotFound',
        `ns does not exist: ${db}.${coll}`,
      );
    }
    return [...c.indexes.values()].map((s) => cloneValue(s));
  }

  /** Returns [before, after, createdCollection]. */
  createIndexes(db: string, coll: string, specs: Document[]): [number, number, boolean] {
    const records: JournalRecord[] = [];
    const existed = this.collection(db, coll) !== undefined;
    const c = this.ensureCollection(db, coll, records);
    const before = c.indexes.size;
    for (const raw of specs) {
      const spec = this.normalizeIndex(raw);
      const sameName = c.indexes.get(spec.name);
      const sameKey = [...c.indexes.values()].find((s) => keyOf(s.key) === keyOf(spec.key));
      if (sameName && keyOf(sameName.key) !== keyOf(spec.key)) {
        throw new CommandError(
          codes.IndexKeySpecsConflict,
          'IndexKeySpecsConflict',
          `An existing index has the same name as the requested index. Requested index: ${formatKeyValue(spec)}, existing index: ${formatKeyValue(sameName)}`,
        );
      }
      if (sameKey) {
        if (keyOf(sameKey) !== keyOf(spec)) {
          throw new CommandError(
            codes.IndexOptionsConflict,
            'IndexOptionsConflict',
            `An equivalent index already exists with a different name and/or options. Requested index: ${formatKeyValue(spec)}, existing index: ${formatKeyValue(sameKey)}`,
          );
        }
        continue;
      }
      if (spec.unique) {
        const keys = new Map<string, string>();
        for (const [id, doc] of c.docs) {
          for (const k of this.indexKeys(spec, doc)) {
            if (keys.has(k)) throw this.duplicateKey(db, coll, spec, doc);
            keys.set(k, id);
          }
        }
        c.unique.set(spec.name, keys);
      }
      c.indexes.set(spec.name, spec);
      records.push({ op: 'index', db, coll, spec: spec as unknown as Document });
    }
    this.commit(records);
    return [before, c.indexes.size, !existed];
  }

  dropIndexes(db: string, coll: string, index: unknown): number {
    const c = this.collection(db, coll);
    if (!c)
      throw new CommandError(
        codes.NamespaceNotFound,
        'NamespaceNotFound',
        `ns not found ${db}.${coll}`,
      );
    const was = c.indexes.size;
    let names: string[];
    if (index === '*') {
      names = [...c.indexes.keys()].filter((n) => n !== '_id_');
    } else if (typeof index === 'string') {
      names = [index];
    } else if (isPlainObject(index)) {
      const found = [...c.indexes.values()].find((s) => keyOf(s.key) === keyOf(index));
      names = found ? [found.name] : [`${formatKeyValue(index)}`];
    } else if (Array.isArray(index)) {
      names = index.map(String);
    } else {
      throw badValue('dropIndexes: index must be a name, a key pattern, an array or "*"');
    }
    for (const name of names) {
      if (name === '_id_') throw new CommandError(72, 'InvalidOptions', 'cannot drop _id index');
      if (!c.indexes.has(name)) {
        throw new CommandError(
          codes.IndexNotFound,
          'IndexNotFound',
          `index not found with name [${name}]`,
        );
      }
    }
    const records: JournalRecord[] = [];
    for (const name of names) {
      c.indexes.delete(name);
      c.unique.delete(name);
      records.push({ op: 'dropIndex', db, coll, name });
    }
    this.commit(records);
    return was;
  }

  private normalizeIndex(raw: Document): IndexSpec {
    for (const field of Object.keys(raw)) {
      if (!INDEX_OPTIONS.has(field)) {
        throw new CommandError(
          codes.NotImplemented,
          'NotImplemented',
          `index option '${field}' is not supported by the local MongoDB-compatible server`,
        );
      }
    }
    if (!isPlainObject(raw.key) || Object.keys(raw.key).length === 0) {
      throw new CommandError(
        67,
        'CannotCreateIndex',
        'Index key pattern must be a non-empty object',
      );
    }
    for (const dir of Object.values(raw.key)) {
      if (dir !== 1 && dir !== -1) {
        throw new CommandError(
          codes.NotImplemented,
          'NotImplemented',
          `index type ${String(dir)} is not supported by the local MongoDB-compatible server`,
        );
      }
    }
    const name =
      typeof raw.name === 'string'
        ? raw.name
        : Object.entries(raw.key)
            .map(([k, d]) => `${k}_${String(d)}`)
            .join('_');
    const spec: IndexSpec = { v: 2, key: raw.key as IndexSpec['key'], name };
    if (raw.unique === true) spec.unique = true;
    if (raw.sparse === true) spec.sparse = true;
    if (raw.expireAfterSeconds !== undefined) {
      const s = raw.expireAfterSeconds;
      if (typeof s !== 'number' || !Number.isInteger(s) || s < 0) {
        throw new CommandError(
          67,
          'CannotCreateIndex',
          "TTL index 'expireAfterSeconds' option must be a non-negative integer",
        );
      }
      if (Object.keys(raw.key).length !== 1) {
        throw new CommandError(
          67,
          'CannotCreateIndex',
          'TTL indexes are single-field indexes, compound indexes do not support TTL',
        );
      }
      spec.expireAfterSeconds = s;
    }
    if (raw.partialFilterExpression !== undefined) {
      if (!isPlainObject(raw.partialFilterExpression))
        throw badValue('partialFilterExpression must be an object');
      spec.partialFilterExpression = raw.partialFilterExpression as Document;
    }
    return spec;
  }

  /** The keys a document contributes to an index; none when sparse/partial leave it out. */
  private indexKeys(spec: IndexSpec, doc: Document): string[] {
    const fields = Object.keys(spec.key);
    const values = fields.map((f) => getPath(doc, f));
    if (spec.sparse && values.every((v) => v === undefined)) return [];
    if (spec.partialFilterExpression && !new Query(spec.partialFilterExpression).test(doc))
      return [];
    if (fields.length === 1 && Array.isArray(values[0])) {
      const arr = values[0] as unknown[];
      return arr.length === 0 ? [keyOf(undefined)] : [...new Set(arr.map(keyOf))];
    }
    return [values.map(keyOf).join('|')];
  }

  private duplicateKey(db: string, coll: string, spec: IndexSpec, doc: Document): CommandError {
    const keyValue: Document = {};
    for (const f of Object.keys(spec.key)) keyValue[f] = getPath(doc, f) ?? null;
    return new CommandError(
      codes.DuplicateKey,
      'DuplicateKey',
      `E11000 duplicate key error collection: ${db}.${coll} index: ${spec.name} dup key: ${formatKeyValue(keyValue)}`,
      { keyPattern: spec.key, keyValue },
    );
  }

  /** Checks unique indexes for `doc` (replacing `previous` if given), then stores it. */
  private put(
    db: string,
    coll: string,
    c: Collection,
    doc: Document,
    previous: Document | undefined,
    records: JournalRecord[],
  ): void {
    const id = keyOf(doc._id);
    if (!previous && c.docs.has(id)) throw this.duplicateKey(db, coll, c.indexes.get('_id_')!, doc);
    const changes: [Map<string, string>, string[], string[]][] = [];
    for (const spec of c.indexes.values()) {
      if (!spec.unique && spec.name !== '_id_') continue;
      const map = c.unique.get(spec.name)!;
      const next = spec.name === '_id_' ? [id] : this.indexKeys(spec, doc);
      for (const k of next) {
        const holder = map.get(k);
        if (holder !== undefined && holder !== id) throw this.duplicateKey(db, coll, spec, doc);
      }
      const prev = previous ? (spec.name === '_id_' ? [id] : this.indexKeys(spec, previous)) : [];
      changes.push([map, prev, next]);
    }
    for (const [map, prev, next] of changes) {
      for (const k of prev) map.delete(k);
      for (const k of next) map.set(k, id);
    }
    c.docs.set(id, doc);
    records.push({ op: 'put', db, coll, doc });
  }

  private remove(
    db: string,
    coll: string,
    c: Collection,
    doc: Document,
    records: JournalRecord[],
  ): void {
    const id = keyOf(doc._id);
    for (const spec of c.indexes.values()) {
      const map = c.unique.get(spec.name);
      if (!map) continue;
      for (const k of spec.name === '_id_' ? [id] : this.indexKeys(spec, doc)) {
        if (map.get(k) === id) map.delete(k);
      }
    }
    c.docs.delete(id);
    records.push({ op: 'del', db, coll, id: doc._id });
  }

  // ---- reads ------------------------------------------------------------------------------

  find(db: string, coll: string, filter: Document, options: FindOptions = {}): Document[] {
    const c = this.collection(db, coll);
    if (!c) return [];
    return guarded(() => {
      let cursor = new Query(filter).find<Document>([...c.docs.values()], options.projection);
      if (options.sort && Object.keys(options.sort).length > 0)
        cursor = cursor.sort(options.sort as never);
      if (options.skip) cursor = cursor.skip(options.skip);
      if (options.limit) cursor = cursor.limit(Math.abs(options.limit));
      return cursor.all().map((d) => cloneValue(d));
    });
  }

  count(db: string, coll: string, filter: Document, skip = 0, limit = 0): number {
    const c = this.collection(db, coll);
    if (!c) return 0;
    const n = guarded(() => new Query(filter).find([...c.docs.values()]).all().length);
    const afterSkip = Math.max(0, n - skip);
    return limit ? Math.min(afterSkip, Math.abs(limit)) : afterSkip;
  }

  aggregate(db: string, coll: string, pipeline: Document[]): Document[] {
    for (const stage of pipeline) {
      const op = Object.keys(stage)[0];
      if (op === '$out' || op === '$merge') {
        throw new CommandError(
          codes.NotImplemented,
          'NotImplemented',
          `${op} is not supported by the local MongoDB-compatible server`,
        );
      }
    }
    const source = [...(this.collection(db, coll)?.docs.values() ?? [])];
    return guarded(() =>
      new Aggregator(pipeline, {
        collectionResolver: (name: string) => [...(this.collection(db, name)?.docs.values() ?? [])],
      })
        .run(source)
        .map((d) => cloneValue(d as Document)),
    );
  }

  // ---- writes -----------------------------------------------------------------------------

  insert(
    db: string,
    coll: string,
    docs: Document[],
    ordered: boolean,
  ): { n: number; writeErrors: WriteError[] } {
    const records: JournalRecord[] = [];
    const c = this.ensureCollection(db, coll, records);
    const writeErrors: WriteError[] = [];
    let n = 0;
    try {
      docs.forEach((raw, index) => {
        if (writeErrors.length > 0 && ordered) return;
        // mongod stores _id first whatever the order it arrived in.
        const { _id, ...rest } = cloneValue(raw);
        const doc = { _id: _id === undefined ? new ObjectId() : _id, ...rest };
        try {
          if (Array.isArray(doc._id)) throw badValue("can't use an array for _id");
          this.put(db, coll, c, doc, undefined, records);
          n += 1;
        } catch (err) {
          writeErrors.push(toWriteError(err, index));
        }
      });
    } finally {
      this.commit(records);
    }
    return { n, writeErrors };
  }

  /** Applies one update statement. Throws CommandError for per-statement failures. */
  updateOne(db: string, coll: string, spec: UpdateSpec, records: JournalRecord[]): UpdateOutcome {
    const c = this.collection(db, coll);
    const isPipeline = Array.isArray(spec.u);
    const isOps = !isPipeline && isOperatorDoc(spec.u as Document);
    if (spec.multi && !isPipeline && !isOps) {
      throw new CommandError(
        codes.FailedToParse,
        'FailedToParse',
        'multi update is not supported for replacement-style update',
      );
    }
    let targets = c ? this.find(db, coll, spec.q, spec.sort ? { sort: spec.sort } : {}) : [];
    if (!spec.multi) targets = targets.slice(0, 1);
    if (targets.length === 0) {
      if (!spec.upsert) return { matched: 0, modified: 0 };
      const coll2 = this.ensureCollection(db, coll, records);
      const doc = this.upsertDocument(spec, isPipeline, isOps);
      this.put(db, coll, coll2, doc, undefined, records);
      return { matched: 0, modified: 0, upsertedId: doc._id, after: doc };
    }
    let modified = 0;
    let before: Document | undefined;
    let after: Document | undefined;
    for (const target of targets) {
      const previous = c!.docs.get(keyOf(target._id))!;
      const next = this.applyTo(previous, spec, isPipeline, isOps, false);
      if (keyOf(next._id) !== keyOf(previous._id)) {
        throw new CommandError(
          66,
          'ImmutableField',
          "Performing an update on the path '_id' would modify the immutable field '_id'",
        );
      }
      before ??= cloneValue(previous);
      if (keyOf(next) !== keyOf(previous)) {
        this.put(db, coll, c!, next, previous, records);
        modified += 1;
      }
      after ??= next;
    }
    return {
      matched: targets.length,
      modified,
      before,
      after: after ? cloneValue(after) : undefined,
    };
  }

  private applyTo(
    previous: Document,
    spec: UpdateSpec,
    isPipeline: boolean,
    isOps: boolean,
    inserting: boolean,
  ): Document {
    if (isPipeline) {
      return guarded(
        () => new Aggregator(spec.u as Document[]).run([cloneValue(previous)])[0] as Document,
      );
    }
    if (!isOps) {
      const replacement = cloneValue(spec.u as Document);
      const { _id: replacementId, ...rest } = replacement;
      if (replacementId !== undefined && keyOf(replacementId) !== keyOf(previous._id)) {
        throw new CommandError(
          66,
          'ImmutableField',
          "Performing an update on the path '_id' would modify the immutable field '_id'",
        );
      }
      return { _id: previous._id, ...rest };
    }
    const { $setOnInsert, ...ops } = spec.u as Document;
    const modifier: Document = { ...ops };
    if (inserting && $setOnInsert)
      modifier.$set = { ...(modifier.$set as Document | undefined), ...($setOnInsert as Document) };
    const doc = cloneValue(previous);
    if (Object.keys(modifier).length > 0) {
      guarded(() =>
        applyUpdate(
          doc,
          modifier as never,
          spec.arrayFilters,
          inserting ? undefined : (spec.q as never),
        ),
      );
    }
    return doc;
  }

  /** The document an upsert inserts: equality fields of the query, then the update. */
  private upsertDocument(spec: UpdateSpec, isPipeline: boolean, isOps: boolean): Document {
    const seed: Document = {};
    const collect = (q: Document): void => {
      for (const [k, v] of Object.entries(q)) {
        if (k === '$and' && Array.isArray(v)) v.forEach((x) => collect(x as Document));
        if (k.startsWith('$')) continue;
        if (isPlainObject(v) && Object.keys(v).some((x) => x.startsWith('$'))) {
          if ('$eq' in v) setPath(seed, k, cloneValue(v.$eq));
        } else {
          setPath(seed, k, cloneValue(v));
        }
      }
    };
    collect(spec.q);
    let doc: Document;
    if (isOps || isPipeline) {
      doc = this.applyTo(seed, spec, isPipeline, isOps, true);
    } else {
      const replacement = cloneValue(spec.u as Document);
      doc = seed._id !== undefined ? { _id: seed._id, ...replacement } : replacement;
    }
    const { _id, ...rest } = doc;
    return { _id: _id === undefined ? new ObjectId() : _id, ...rest };
  }

  update(db: string, coll: string, specs: UpdateSpec[], ordered: boolean) {
    const records: JournalRecord[] = [];
    let n = 0;
    let nModified = 0;
    const upserted: { index: number; _id: unknown }[] = [];
    const writeErrors: WriteError[] = [];
    try {
      specs.forEach((spec, index) => {
        if (writeErrors.length > 0 && ordered) return;
        try {
          const r = this.updateOne(db, coll, spec, records);
          if (r.upsertedId !== undefined) {
            upserted.push({ index, _id: r.upsertedId });
            n += 1;
          } else {
            n += r.matched;
            nModified += r.modified;
          }
        } catch (err) {
          writeErrors.push(toWriteError(err, index));
        }
      });
    } finally {
      this.commit(records);
    }
    return { n, nModified, upserted, writeErrors };
  }

  delete(db: string, coll: string, specs: { q: Document; limit: number }[], ordered: boolean) {
    const records: JournalRecord[] = [];
    const writeErrors: WriteError[] = [];
    let n = 0;
    try {
      specs.forEach((spec, index) => {
        if (writeErrors.length > 0 && ordered) return;
        try {
          const c = this.collection(db, coll);
          if (!c) return;
          let targets = this.find(db, coll, spec.q);
          if (spec.limit === 1) targets = targets.slice(0, 1);
          for (const t of targets) this.remove(db, coll, c, c.docs.get(keyOf(t._id))!, records);
          n += targets.length;
        } catch (err) {
          writeErrors.push(toWriteError(err, index));
        }
      });
    } finally {
      this.commit(records);
    }
    return { n, writeErrors };
  }

  /** findAndModify: one statement, one document, atomic (commands run one at a time). */
  findAndModify(
    db: string,
    coll: string,
    args: {
      query: Document;
      sort?: Document;
      remove: boolean;
      update?: Document | Document[];
      upsert: boolean;
      returnNew: boolean;
      fields?: Document;
      arrayFilters?: Document[];
    },
  ): { value: Document | null; lastErrorObject: Document } {
    const records: JournalRecord[] = [];
    const project = (doc: Document | undefined): Document | null => {
      if (!doc) return null;
      if (!args.fields || Object.keys(args.fields).length === 0) return doc;
      return guarded(() => new Query({}).find<Document>([doc], args.fields).all()[0] ?? null);
    };
    try {
      if (args.remove) {
        const c = this.collection(db, coll);
        const target = c
          ? this.find(db, coll, args.query, args.sort ? { sort: args.sort } : {})[0]
          : undefined;
        if (target) this.remove(db, coll, c!, c!.docs.get(keyOf(target._id))!, records);
        return { value: project(target), lastErrorObject: { n: target ? 1 : 0 } };
      }
      if (args.update === undefined)
        throw new CommandError(
          codes.FailedToParse,
          'FailedToParse',
          'Either an update or remove=true must be specified',
        );
      const r = this.updateOne(
        db,
        coll,
        {
          q: args.query,
          u: args.update,
          upsert: args.upsert,
          sort: args.sort,
          arrayFilters: args.arrayFilters,
        },
        records,
      );
      const lastErrorObject: Document = {
        n: r.upsertedId !== undefined ? 1 : r.matched,
        updatedExisting: r.matched > 0,
      };
      if (r.upsertedId !== undefined) lastErrorObject.upserted = r.upsertedId;
      const value = args.returnNew ? r.after : r.upsertedId !== undefined ? undefined : r.before;
      return { value: project(value), lastErrorObject };
    } finally {
      this.commit(records);
    }
  }

  /** One pass of the TTL monitor: removes documents whose indexed date has expired. */
  expire(now: Date): number {
    const records: JournalRecord[] = [];
    for (const [db, colls] of this.dbs) {
      for (const [coll, c] of colls) {
        for (const spec of c.indexes.values()) {
          if (spec.expireAfterSeconds === undefined) continue;
          const field = Object.keys(spec.key)[0]!;
          for (const doc of [...c.docs.values()]) {
            const v = getPath(doc, field);
            const dates = (Array.isArray(v) ? v : [v]).filter((x): x is Date => x instanceof Date);
            if (dates.length === 0) continue;
            const earliest = Math.min(...dates.map((d) => d.getTime()));
            if (
              earliest + spec.expireAfterSeconds * 1000 <= now.getTime() &&
              c.docs.has(keyOf(doc._id))
            ) {
              this.remove(db, coll, c, doc, records);
            }
          }
        }
      }
    }
    this.commit(records);
    return records.length;
  }

  // ---- durability -------------------------------------------------------------------------

  private commit(records: JournalRecord[]): void {
    if (!this.journal || records.length === 0) return;
    if (this.journal.append(records)) this.journal.compact(this.snapshot());
  }

  private snapshot(): JournalRecord[] {
    const out: JournalRecord[] = [];
    for (const [db, colls] of this.dbs) {
      for (const [coll, c] of colls) {
        out.push({ op: 'createColl', db, coll });
        for (const spec of c.indexes.values()) {
          if (spec.name !== '_id_')
            out.push({ op: 'index', db, coll, spec: spec as unknown as Document });
        }
        for (const doc of c.docs.values()) out.push({ op: 'put', db, coll, doc });
      }
    }
    return out;
  }

  private replay(r: JournalRecord): void {
    const scratch: JournalRecord[] = [];
    switch (r.op) {
      case 'createColl':
        this.ensureCollection(r.db, r.coll, scratch);
        break;
      case 'dropColl':
        this.dbs.get(r.db)?.delete(r.coll);
        break;
      case 'dropDb':
        this.dbs.delete(r.db);
        break;
      case 'index': {
        const c = this.ensureCollection(r.db, r.coll, scratch);
        const spec = r.spec as unknown as IndexSpec;
        c.indexes.set(spec.name, spec);
        if (spec.unique) {
          const map = new Map<string, string>();
          for (const [id, doc] of c.docs) for (const k of this.indexKeys(spec, doc)) map.set(k, id);
          c.unique.set(spec.name, map);
        }
        break;
      }
      case 'dropIndex': {
        const c = this.collection(r.db, r.coll);
        c?.indexes.delete(r.name);
        c?.unique.delete(r.name);
        break;
      }
      case 'put': {
        const c = this.ensureCollection(r.db, r.coll, scratch);
        const previous = c.docs.get(keyOf(r.doc._id));
        // Post-images were checked when first written; replay must not reject them.
        for (const spec of c.indexes.values()) {
          const map = c.unique.get(spec.name);
          if (!map) continue;
          const id = keyOf(r.doc._id);
          if (previous)
            for (const k of spec.name === '_id_' ? [id] : this.indexKeys(spec, previous))
              map.delete(k);
          for (const k of spec.name === '_id_' ? [id] : this.indexKeys(spec, r.doc)) map.set(k, id);
        }
        c.docs.set(keyOf(r.doc._id), r.doc);
        break;
      }
      case 'del': {
        const c = this.collection(r.db, r.coll);
        const doc = c?.docs.get(keyOf(r.id));
        if (c && doc) this.remove(r.db, r.coll, c, doc, scratch);
        break;
      }
    }
  }
}

function toWriteError(err: unknown, index: number): WriteError {
  if (err instanceof CommandError) {
    return { index, code: err.code, errmsg: err.message, ...err.extra };
  }
  throw err;
}
