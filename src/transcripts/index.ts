import type { TranscriptCue } from '../store/index.js';

export type { TranscriptCue } from '../store/index.js';

const TIMING =
  /^(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{3})\s+-->\s+(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{3})/;

function seconds(h: string | undefined, m: string, s: string, ms: string): number {
  return Number(h ?? 0) * 3600 + Number(m) * 60 + Number(s) + Number(ms) / 1000;
}

const ENTITIES: Record<string, string> = {
  '&amp;': '&',
  '&lt;': '<',
  '&gt;': '>',
  '&nbsp;': ' ',
  '&lrm;': '',
  '&rlm;': '',
};

/**
 * Cues of a WebVTT file as Teams writes transcripts: `start --> end` timings, the speaker in a
 * voice span (`<v Name>…</v>`), optional cue identifiers, NOTE/STYLE blocks skipped. Other tags
 * are dropped and entities decoded: the result is plain text, safe to show. Malformed blocks
 * are skipped rather than failing the whole transcript.
 */
export function parseVtt(vtt: string): TranscriptCue[] {
  const text = vtt.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  if (!/^WEBVTT(?:[ \t].*)?(?:\n|$)/.test(text)) return [];
  const cues: TranscriptCue[] = [];
  for (const block of text.split(/\n{2,}/).slice(1)) {
    const lines = block.split('\n').filter((l) => l.length > 0);
    const at = lines.findIndex((l) => l.includes('-->'));
    if (at < 0 || at > 1) continue;
    const m = TIMING.exec(lines[at]!);
    if (!m) continue;
    const raw = lines.slice(at + 1).join('\n');
    const voice = /<v(?:\.[\w.-]+)?\s+([^>]+)>/.exec(raw);
    const body = raw
      .replace(/<[^>]*>/g, '')
      .replace(/&(?:amp|lt|gt|nbsp|lrm|rlm);/g, (e) => ENTITIES[e]!)
      .trim();
    if (!body) continue;
    cues.push({
      start: seconds(m[1], m[2]!, m[3]!, m[4]!),
      end: seconds(m[5], m[6]!, m[7]!, m[8]!),
      ...(voice ? { speaker: voice[1]!.trim() } : {}),
      text: body,
    });
  }
  return cues;
}

/** Regex-safe text for a search box (case-insensitive substring match). */
export function searchPattern(q: string): RegExp {
  return new RegExp(q.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i');
}
