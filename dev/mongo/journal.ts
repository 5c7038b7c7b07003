import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { deserialize, serialize, type Document } from 'bson';

/**
 * One change to the data set. Records carry post-images (whole documents), so replaying a
 * record twice gives the same state: that is what makes compaction crash-safe.
 */
export type JournalRecord =
  | { op: 'put'; db: string; coll: string; doc: Document }
  | { op: 'del'; db: string; coll: string; id: unknown }
  | { op: 'createColl'; db: string; coll: string }
  | { op: 'dropColl'; db: string; coll: string }
  | { op: 'index'; db: string; coll: string; spec: Document }
  | { op: 'dropIndex'; db: string; coll: string; name: string }
  | { op: 'dropDb'; db: string };

const SNAPSHOT = 'snapshot.bin';
const SNAPSHOT_TMP = 'snapshot.bin.tmp';
const JOURNAL = 'journal.bin';
const LOCK = 'mongod.lock';
const RECORD_HEADER = 8; // uint32 length + uint32 crc32

function frame(record: JournalRecord): Buffer {
  const body = serialize(record as Document);
  const head = Buffer.alloc(RECORD_HEADER);
  head.writeUInt32LE(body.length, 0);
  head.writeUInt32LE(zlib.crc32(body), 4);
  return Buffer.concat([head, body]);
}

/** Reads framed records; stops at the first torn or corrupt one and reports where. */
function readFrames(buf: Buffer): { records: JournalRecord[]; validBytes: number } {
  const records: JournalRecord[] = [];
  let offset = 0;
  while (offset + RECORD_HEADER <= buf.length) {
    const length = buf.readUInt32LE(offset);
    const crc = buf.readUInt32LE(offset + 4);
    const start = offset + RECORD_HEADER;
    if (length < 5 || start + length > buf.length) break;
    const body = buf.subarray(start, start + length);
    if (zlib.crc32(body) !== crc) break;
    records.push(deserialize(body, { promoteLongs: true }) as JournalRecord);
    offset = start + length;
  }
  return { records, validBytes: offset };
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM means the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface JournalOptions {
  dir: string;
  /** fsync after every append. On by default: an acknowledged write survives a crash. */
  fsync?: boolean;
  /** Compact when the journal grows past this many bytes. */
  compactBytes?: number;
}

/**
 * Durable storage for the local server: a snapshot plus an append-only journal of framed,
 * checksummed records. A crash mid-append leaves a torn tail, which is detected by length and
 * CRC and cut off on the next open. Snapshots are written to a temporary file, fsynced and
 * renamed, so the directory always holds a complete one.
 */
export class Journal {
  private fd: number | undefined;
  private bytes = 0;
  private readonly fsync: boolean;
  private readonly compactBytes: number;

  constructor(private readonly options: JournalOptions) {
    this.fsync = options.fsync ?? true;
    this.compactBytes = options.compactBytes ?? 8 * 1024 * 1024;
  }

  /** Takes the lock and returns every record needed to rebuild the data set, in order. */
  open(): JournalRecord[] {
    const { dir } = this.options;
    fs.mkdirSync(dir, { recursive: true });
    this.lock();
    const snapshotPath = path.join(dir, SNAPSHOT);
    const records: JournalRecord[] = [];
    if (fs.existsSync(snapshotPath)) {
      const buf = fs.readFileSync(snapshotPath);
      const snap = readFrames(buf);
      if (snap.validBytes !== buf.length) {
        throw new Error(`snapshot ${snapshotPath} is corrupt at byte ${snap.validBytes}`);
      }
      records.push(...snap.records);
    }
    fs.rmSync(path.join(dir, SNAPSHOT_TMP), { force: true });
    const journalPath = path.join(dir, JOURNAL);
    if (fs.existsSync(journalPath)) {
      const buf = fs.readFileSync(journalPath);
      const tail = readFrames(buf);
      records.push(...tail.records);
      if (tail.validBytes !== buf.length) {
        // A torn final record was never acknowledged; drop it so appends start clean.
        fs.truncateSync(journalPath, tail.validBytes);
      }
      this.bytes = tail.validBytes;
    }
    this.fd = fs.openSync(journalPath, 'a');
    return records;
  }

  /** Appends records as one write, then fsyncs. Returns true when compaction is due. */
  append(records: JournalRecord[]): boolean {
    if (records.length === 0) return false;
    if (this.fd === undefined) throw new Error('journal is not open');
    const buf = Buffer.concat(records.map(frame));
    fs.writeSync(this.fd, buf);
    if (this.fsync) fs.fsyncSync(this.fd);
    this.bytes += buf.length;
    return this.bytes >= this.compactBytes;
  }

  /** Writes a fresh snapshot of the whole data set and empties the journal. */
  compact(state: JournalRecord[]): void {
    if (this.fd === undefined) throw new Error('journal is not open');
    const { dir } = this.options;
    const tmp = path.join(dir, SNAPSHOT_TMP);
    const fd = fs.openSync(tmp, 'w');
    try {
      for (let i = 0; i < state.length; i += 1000) {
        fs.writeSync(fd, Buffer.concat(state.slice(i, i + 1000).map(frame)));
      }
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path.join(dir, SNAPSHOT));
    fsyncDir(dir);
    // A crash before this truncate only replays post-images already in the snapshot.
    fs.ftruncateSync(this.fd, 0);
    fs.fsyncSync(this.fd);
    this.bytes = 0;
  }

  close(): void {
    if (this.fd !== undefined) {
      fs.closeSync(this.fd);
      this.fd = undefined;
      fs.rmSync(path.join(this.options.dir, LOCK), { force: true });
    }
  }

  private lock(): void {
    const lockPath = path.join(this.options.dir, LOCK);
    try {
      fs.writeFileSync(lockPath, String(process.pid), { flag: 'wx' });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number(fs.readFileSync(lockPath, 'utf8'));
    if (Number.isInteger(holder) && holder !== process.pid && pidAlive(holder)) {
      throw new Error(
        `data directory ${this.options.dir} is in use by process ${holder}; stop it or pick another --dbpath`,
      );
    }
    // The holder died without cleaning up (a crash): the lock is stale.
    fs.writeFileSync(lockPath, String(process.pid));
  }
}
