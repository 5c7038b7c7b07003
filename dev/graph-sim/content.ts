import { createCipheriv, createHash } from 'node:crypto';
import { Readable } from 'node:stream';

const CHUNK = 64 * 1024;
/** A minimal ISO BMFF `ftyp` box, so the bytes start like an MP4 file. */
const FTYP = Buffer.from('000000206674797069736f6d0000020069736f6d69736f32617663316d703431', 'hex');

/**
 * The bytes of a recording, made from its id: an MP4 `ftyp` header, then an AES-CTR keystream
 * keyed by the id. Any range can be produced directly, so a 1 GB recording is streamed with
 * constant memory and `Range` requests cost nothing extra.
 */
export function recordingStream(id: string, size: number, start = 0, end = size - 1): Readable {
  const key = createHash('sha256').update(`recording:${id}`).digest().subarray(0, 16);
  let offset = start;
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      if (offset > end) {
        this.push(null);
        return;
      }
      const length = Math.min(CHUNK, end - offset + 1);
      this.push(bytesAt(key, offset, length));
      offset += length;
    },
  });
}

function bytesAt(key: Buffer, offset: number, length: number): Buffer {
  const block = Math.floor(offset / 16);
  const skip = offset % 16;
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64BE(BigInt(block), 8);
  const cipher = createCipheriv('aes-128-ctr', key, iv);
  const out = cipher.update(Buffer.alloc(skip + length)).subarray(skip);
  // The header overrides the first bytes of the keystream.
  if (offset < FTYP.length) FTYP.copy(out, 0, offset, Math.min(FTYP.length, offset + length));
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
