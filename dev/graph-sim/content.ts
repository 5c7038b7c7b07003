import { createCipheriv, createHash } from 'node:crypto';
import { Readable } from 'node:stream';

const CHUNK = 64 * 1024;
const RATE = 8000;
const HEADER_BYTES = 44;
/** One period of a quiet 400 Hz tone, 8-bit unsigned PCM. */
const TONE = Buffer.from(
  Array.from(
    { length: RATE / 400 },
    (_, k) => 128 + Math.round(24 * Math.sin((2 * Math.PI * k) / (RATE / 400))),
  ),
);

/** A RIFF/WAVE header for `size` bytes in all: 8 kHz, mono, 8-bit PCM. */
function wavHeader(size: number): Buffer {
  const b = Buffer.alloc(HEADER_BYTES);
  const riff = Math.min(size - 8, 0xffffffff);
  b.write('RIFF', 0, 'ascii');
  b.writeUInt32LE(riff, 4);
  b.write('WAVEfmt ', 8, 'ascii');
  b.writeUInt32LE(16, 16); // fmt chunk size
  b.writeUInt16LE(1, 20); // PCM
  b.writeUInt16LE(1, 22); // mono
  b.writeUInt32LE(RATE, 24);
  b.writeUInt32LE(RATE, 28); // bytes per second
  b.writeUInt16LE(1, 32); // block align
  b.writeUInt16LE(8, 34); // bits per sample
  b.write('data', 36, 'ascii');
  b.writeUInt32LE(Math.min(size - HEADER_BYTES, 0xffffffff), 40);
  return b;
}

/**
 * The bytes of a recording, made from its id and size: a playable stand-in. A real recording is
 * an H.264 MP4 that cannot be synthesized at any size on the fly, so the simulator serves a
 * PCM WAV (a quiet tone with low noise keyed by the id, 8000 bytes a second) under Graph's
 * `video/mp4`: browsers sniff the container, so the tab's player really plays and seeks it,
 * and the app passes the bytes through untouched either way. Any range is produced directly
 * (AES-CTR keystream at the offset), so a 1 GB recording streams in constant memory.
 */
export function recordingStream(id: string, size: number, start = 0, end = size - 1): Readable {
  const key = createHash('sha256').update(`recording:${id}`).digest().subarray(0, 16);
  const header = wavHeader(size);
  let offset = start;
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      if (offset > end) {
        this.push(null);
        return;
      }
      const length = Math.min(CHUNK, end - offset + 1);
      this.push(bytesAt(key, header, offset, length));
      offset += length;
    },
  });
}

function bytesAt(key: Buffer, header: Buffer, offset: number, length: number): Buffer {
  const block = Math.floor(offset / 16);
  const skip = offset % 16;
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64BE(BigInt(block), 8);
  const cipher = createCipheriv('aes-128-ctr', key, iv);
  const out = cipher.update(Buffer.alloc(skip + length)).subarray(skip);
  const period = TONE.length;
  for (let i = 0; i < length; i++) {
    const pos = offset + i;
    out[i] =
      pos < HEADER_BYTES ? header[pos]! : TONE[(pos - HEADER_BYTES) % period]! + (out[i]! & 7) - 4;
  }
  return out;
}

/** Parses a single `bytes=a-b` range against `size`; undefined when absent, 'invalid' when unsatisfiable. */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | 'invalid' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'invalid';
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'invalid';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return 'invalid';
  return { start, end };
}

const LINES = [
  "Good morning everyone, let us get started with today's class.",
  'Last week we covered cell membranes; today we move on to transport.',
  'Can someone remind us what passive transport means?',
  'It is movement across the membrane without using energy.',
  'Exactly. Diffusion and osmosis are both examples.',
  'What happens to a red blood cell in pure water?',
  'It swells, because water moves in by osmosis.',
  'Right, and it can burst. That is called hemolysis.',
  'For the lab, you will measure osmosis in potato slices.',
  'Please read chapter seven before next session. Thanks, everyone.',
];

function stamp(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${s.toFixed(3).padStart(6, '0')}`;
}

/** A plausible WebVTT class transcript: the organizer teaches, attendees answer. */
export function transcriptVtt(organizer: string, attendees: string[]): string {
  const voices = [organizer, ...(attendees.length ? attendees : ['Student'])];
  let t = 4;
  const cues = LINES.map((text, i) => {
    const speaker =
      i % 3 === 0 || i === LINES.length - 1
        ? organizer
        : (voices[1 + (i % (voices.length - 1 || 1))] ?? organizer);
    const cue = `${stamp(t)} --> ${stamp(t + 5.5)}\n<v ${speaker}>${text}</v>`;
    t += 7;
    return cue;
  });
  return `WEBVTT\n\n${cues.join('\n\n')}\n`;
}
