import { Template } from 'adaptivecards-templating';
import { CardFactory, type Attachment } from 'botbuilder';
// Imported (not read from disk) so that `npm run build` copies the template into dist/.
import consentTemplate from './consent-notice.json' with { type: 'json' };

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
