import { Template } from 'adaptivecards-templating';
import { CardFactory, type Attachment } from 'botbuilder';
import type { RecordingCardData } from '../../src/sync/index.js';
// Imported (not read from disk) so that `npm run build` copies the template into dist/.
import consentTemplate from './consent-notice.json' with { type: 'json' };
import formTemplate from './schedule-form.json' with { type: 'json' };
import recordingTemplate from './recording.json' with { type: 'json' };
import scheduledTemplate from './scheduled.json' with { type: 'json' };

/** The default wording; CONSENT_NOTICE_TEXT replaces it. */
export const DEFAULT_CONSENT_NOTICE =
  "This class session is recorded automatically; recording cannot be turned off. The recording and its transcript are stored in Microsoft 365 and shared with the members of this class through Classroom Recorder. Only members of the class team, its instructors and administrators can access them. Retention follows your institution's policy. By joining the meeting, you consent to being recorded.";

export interface ConsentNoticeData {
  occasion: 'scheduled' | 'started';
  title: string;
  /** Already formatted for the reader, e.g. "Sat, 2 Mar 2030, 10:00 CET". */
  when: string;
  joinUrl?: string;
  notice: string;
}

/** The recording-consent notice, bound from its template. */
export function consentNoticeCard(data: ConsentNoticeData): Attachment {
  const card = new Template(consentTemplate).expand({
    $root: {
      heading:
        data.occasion === 'started'
          ? 'This meeting is being recorded'
          : 'Recording notice: this class will be recorded',
      title: data.title,
      when: data.when,
      joinUrl: data.joinUrl ?? '',
      notice: data.notice,
    },
  });
  return CardFactory.adaptiveCard(card);
}

/** What the scheduling form shows: the user's values (kept after an error) and the error. */
export interface ScheduleFormData {
  formId: string;
  timeZone: string;
  title?: string;
  date?: string;
  time?: string;
  duration?: number;
  description?: string;
  /** The class channels to pick from (the current channel first when there is one). */
  channels?: { title: string; value: string }[];
  /** The picked class channel (a channel conversation id). */
  classChannel?: string;
  error?: string;
}

/** The scheduling form (Action.Submit); `formId` makes a double click one request. */
export function scheduleFormCard(data: ScheduleFormData): Attachment {
  return CardFactory.adaptiveCard(
    new Template(formTemplate).expand({
      $root: {
        formId: data.formId,
        timeZone: data.timeZone,
        title: data.title ?? '',
        date: data.date ?? '',
        time: data.time ?? '',
        duration: String(data.duration ?? 60),
        description: data.description ?? '',
        channels: data.channels ?? [],
        classChannel: data.classChannel ?? data.channels?.[0]?.value ?? '',
        error: data.error ?? '',
      },
    }),
  );
}

/** What replaces the form once it was submitted. */
export function scheduledCard(data: {
  scheduled: boolean;
  title: string;
  when: string;
  status: string;
}): Attachment {
  return CardFactory.adaptiveCard(
    new Template(scheduledTemplate).expand({
      $root: {
        heading: data.scheduled ? 'Class meeting scheduled' : 'Class meeting not scheduled',
        title: data.title,
        when: data.when,
        status: data.status,
      },
    }),
  );
}

/** What the recording card shows: the sync worker's data, plus what one user's copy adds. */
export interface RecordingCardView extends RecordingCardData {
  /** Only in the copy shown to the user who asked for a download link. */
  downloadUrl?: string;
  linkMinutes?: number;
  /** A message for the user who pressed a button (e.g. why there is no link). */
  notice?: string;
}

/** The recording card: Download (Action.Execute, a personal link) and View. */
export function recordingCard(data: RecordingCardView): Attachment {
  return CardFactory.adaptiveCard(
    new Template(recordingTemplate).expand({
      $root: {
        recordingId: data.recordingId,
        title: data.title,
        when: data.when,
        duration: data.duration,
        organizer: data.organizer,
        transcript: data.transcripts > 0 ? 'available' : 'not yet',
        viewUrl: data.viewUrl ?? '',
        downloadUrl: data.downloadUrl ?? '',
        linkMinutes: String(data.linkMinutes ?? 5),
        notice: data.notice ?? '',
      },
    }),
  );
}
