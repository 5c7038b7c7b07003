import type { Collection } from 'mongodb';
import type { Runner } from './retry.js';

/** One line of a transcript: who spoke, when (seconds from the start), what. */
export interface TranscriptCue {
  start: number;
  end: number;
  speaker?: string;
  text: string;
}

/** A meeting transcript, parsed from Graph's WebVTT and kept for the tab (reading and search). */
export interface TranscriptRecord {
  /** Graph's transcript id. */
  _id: string;
  meetingId: string;
  /** The class conversation: search runs within one class. */
  conversationId: string;
  createdDateTime: Date;
  cues: TranscriptCue[];
  /** All cue text in one string, for search. */
  text: string;
  updatedAt: Date;
}

export class TranscriptsRepository {
  constructor(
    private readonly coll: Collection<TranscriptRecord>,
    private readonly run: Runner,
  ) {}

  /** Stores (or replaces) a transcript; a repeat writes the same content again. */
  async put(record: TranscriptRecord): Promise<void> {
    const { _id, ...fields } = record;
    await this.run('transcripts.put', () =>
      this.coll.updateOne({ _id }, { $set: fields }, { upsert: true }),
    );
  }

  listByMeeting(meetingId: string): Promise<TranscriptRecord[]> {
    return this.run('transcripts.listByMeeting', () =>
      this.coll.find({ meetingId }).sort({ createdDateTime: 1 }).toArray(),
    );
  }

  /** Meetings of one class whose transcripts contain `pattern` (already escaped). */
  async meetingsMatching(conversationId: string, pattern: RegExp, limit = 500): Promise<string[]> {
    const rows = await this.run('transcripts.meetingsMatching', () =>
      this.coll
        .find({ conversationId, text: { $regex: pattern } }, { projection: { meetingId: 1 } })
        .limit(limit)
        .toArray(),
    );
    return [...new Set(rows.map((r) => r.meetingId))];
  }
}
