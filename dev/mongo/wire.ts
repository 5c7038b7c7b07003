import { deserialize, serialize, type Document } from 'bson';

/** Opcodes from the MongoDB wire protocol specification. */
export const OP_REPLY = 1;
export const OP_QUERY = 2004;
export const OP_MSG = 2013;

const HEADER_BYTES = 16;
/** mongod's default maxMessageSizeBytes. */
export const MAX_MESSAGE_BYTES = 48_000_000;

const FLAG_CHECKSUM_PRESENT = 1 << 0;
const FLAG_MORE_TO_COME = 1 << 1;
const FLAG_EXHAUST_ALLOWED = 1 << 16;
const KNOWN_MSG_FLAGS = FLAG_CHECKSUM_PRESENT | FLAG_MORE_TO_COME | FLAG_EXHAUST_ALLOWED;

export interface Header {
  length: number;
  requestId: number;
  responseTo: number;
  opCode: number;
}

export type Request =
  | { kind: 'query'; header: Header; collection: string; query: Document }
  | { kind: 'msg'; header: Header; moreToCome: boolean; command: Document };

export class ProtocolError extends Error {}

const BSON_OPTIONS = { promoteLongs: true, promoteValues: true, promoteBuffers: false } as const;

function readCString(buf: Buffer, offset: number): [string, number] {
  const end = buf.indexOf(0, offset);
  if (end < 0) throw new ProtocolError('unterminated cstring');
  return [buf.toString('utf8', offset, end), end + 1];
}

function readDocument(buf: Buffer, offset: number): [Document, number] {
  if (offset + 4 > buf.length) throw new ProtocolError('truncated document');
  const size = buf.readInt32LE(offset);
  if (size < 5 || offset + size > buf.length) throw new ProtocolError('bad document size');
  return [deserialize(buf.subarray(offset, offset + size), BSON_OPTIONS), offset + size];
}

/**
 * Splits a byte stream into complete wire messages. Returns the messages found and the
 * unconsumed remainder.
 */
export function splitMessages(buf: Buffer): { messages: Buffer[]; rest: Buffer } {
  const messages: Buffer[] = [];
  let offset = 0;
  while (buf.length - offset >= 4) {
    const length = buf.readInt32LE(offset);
    if (length < HEADER_BYTES || length > MAX_MESSAGE_BYTES) {
      throw new ProtocolError(`invalid message length ${length}`);
    }
    if (buf.length - offset < length) break;
    messages.push(buf.subarray(offset, offset + length));
    offset += length;
  }
  return { messages, rest: buf.subarray(offset) };
}

/** Parses one complete message (OP_QUERY for the legacy handshake, otherwise OP_MSG). */
export function parseMessage(msg: Buffer): Request {
  const header: Header = {
    length: msg.readInt32LE(0),
    requestId: msg.readInt32LE(4),
    responseTo: msg.readInt32LE(8),
    opCode: msg.readInt32LE(12),
  };
  if (header.opCode === OP_QUERY) {
    let offset = HEADER_BYTES + 4; // flags
    const [collection, next] = readCString(msg, offset);
    offset = next + 8; // numberToSkip, numberToReturn
    const [query] = readDocument(msg, offset);
    return { kind: 'query', header, collection, query };
  }
  if (header.opCode !== OP_MSG) throw new ProtocolError(`unsupported opcode ${header.opCode}`);
  const flags = msg.readUInt32LE(HEADER_BYTES);
  if ((flags & ~KNOWN_MSG_FLAGS & 0xffff) !== 0) {
    // The low 16 bits are "required" flags: a peer that sets an unknown one must be refused.
    throw new ProtocolError(`unknown required OP_MSG flag bits ${flags}`);
  }
  const end = flags & FLAG_CHECKSUM_PRESENT ? msg.length - 4 : msg.length;
  let offset = HEADER_BYTES + 4;
  let command: Document | undefined;
  const sequences: Record<string, Document[]> = {};
  while (offset < end) {
    const kind = msg.readUInt8(offset);
    offset += 1;
    if (kind === 0) {
      if (command) throw new ProtocolError('more than one body section');
      [command, offset] = readDocument(msg, offset);
    } else if (kind === 1) {
      const size = msg.readInt32LE(offset);
      const sectionEnd = offset + size;
      const [identifier, docsStart] = readCString(msg, offset + 4);
      const docs: Document[] = [];
      let p = docsStart;
      while (p < sectionEnd) {
        const [doc, next] = readDocument(msg, p);
        docs.push(doc);
        p = next;
      }
      sequences[identifier] = docs;
      offset = sectionEnd;
    } else {
      throw new ProtocolError(`unknown OP_MSG section kind ${kind}`);
    }
  }
  if (!command) throw new ProtocolError('OP_MSG without a body section');
  for (const [identifier, docs] of Object.entries(sequences)) {
    if (identifier in command) throw new ProtocolError(`duplicate field ${identifier}`);
    command[identifier] = docs;
  }
  return { kind: 'msg', header, moreToCome: (flags & FLAG_MORE_TO_COME) !== 0, command };
}

let nextRequestId = 1;

function header(length: number, responseTo: number, opCode: number): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  h.writeInt32LE(length, 0);
  h.writeInt32LE(nextRequestId++ & 0x7fffffff, 4);
  h.writeInt32LE(responseTo, 8);
  h.writeInt32LE(opCode, 12);
  return h;
}

/** An OP_MSG reply with a single body section. */
export function encodeMsgReply(responseTo: number, body: Document): Buffer {
  const doc = serialize(body);
  const length = HEADER_BYTES + 4 + 1 + doc.length;
  const flagsAndKind = Buffer.alloc(5);
  return Buffer.concat([header(length, responseTo, OP_MSG), flagsAndKind, doc]);
}

/** An OP_REPLY, used only to answer the legacy OP_QUERY handshake. */
export function encodeReply(responseTo: number, body: Document): Buffer {
  const doc = serialize(body);
  const fields = Buffer.alloc(20); // responseFlags, cursorID (int64), startingFrom, numberReturned
  fields.writeInt32LE(1, 16);
  const length = HEADER_BYTES + fields.length + doc.length;
  return Buffer.concat([header(length, responseTo, OP_REPLY), fields, doc]);
}
