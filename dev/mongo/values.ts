import { ObjectId, type Document } from 'bson';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * A canonical string for a BSON value, used for `_id` lookups and unique-index keys. Numbers
 * of different BSON types compare equal, as in MongoDB; other types never collide.
 */
export function keyOf(v: unknown): string {
  if (v === undefined || v === null) return 'null';
  if (typeof v === 'number') return `n:${Object.is(v, -0) ? 0 : v}`;
  if (typeof v === 'bigint') return `n:${v}`;
  if (typeof v === 'string') return `s:${JSON.stringify(v)}`;
  if (typeof v === 'boolean') return `b:${v}`;
  if (v instanceof Date) return `d:${v.getTime()}`;
  if (Array.isArray(v)) return `[${v.map(keyOf).join(',')}]`;
  if (isPlainObject(v)) {
    return `{${Object.entries(v)
      .map(([k, x]) => `${JSON.stringify(k)}:${keyOf(x)}`)
      .join(',')}}`;
  }
  const bsontype = (v as { _bsontype?: string })._bsontype;
  if (bsontype === 'Long' || bsontype === 'Double' || bsontype === 'Int32') return `n:${String(v)}`;
  if (bsontype) return `${bsontype}:${String((v as { toString(): string }).toString())}`;
  return `?:${String(v)}`;
}

/** Deep copy that keeps BSON value classes (ObjectId, Binary, Long…) as they are. */
export function cloneValue<T>(v: T): T {
  if (Array.isArray(v)) return v.map(cloneValue) as T;
  if (v instanceof Date) return new Date(v.getTime()) as T;
  if (isPlainObject(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = cloneValue(x);
    return out as T;
  }
  return v;
}

/** Reads a dotted path; arrays of sub-documents are not traversed (index keys use scalars). */
export function getPath(doc: Document, path: string): unknown {
  let cur: unknown = doc;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

export function setPath(doc: Document, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur: Record<string, unknown> = doc;
  for (const part of parts.slice(0, -1)) {
    if (!isPlainObject(cur[part])) cur[part] = {};
    cur = cur[part] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

/** How mongod prints a value inside an E11000 message. */
export function formatKeyValue(v: unknown): string {
  if (v === undefined || v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (v instanceof Date) return `new Date(${v.getTime()})`;
  if (v instanceof ObjectId) return `ObjectId('${v.toHexString()}')`;
  if (Array.isArray(v)) return `[ ${v.map(formatKeyValue).join(', ')} ]`;
  if (isPlainObject(v)) {
    return `{ ${Object.entries(v)
      .map(([k, x]) => `${k}: ${formatKeyValue(x)}`)
      .join(', ')} }`;
  }
  return String(v);
}

export { isPlainObject };
