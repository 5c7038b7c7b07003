import assert from 'node:assert/strict';
import { DEFAULT_CONSENT_NOTICE, consentNoticeCard } from '../../bot/cards/index.js';

describe('bot: consent notice card', () => {
  it('binds title, time, notice and the join action', () => {
    const a = consentNoticeCard({
      occasion: 'scheduled',
      title: 'Biology ${not-an-expression}',
      when: 'Sat, 2 Mar 2030, 10:00 CET',
      joinUrl: 'https://teams.microsoft.com/l/meetup-join/x',
      notice: DEFAULT_CONSENT_NOTICE,
    });
    assert.equal(a.contentType, 'application/vnd.microsoft.card.adaptive');
    const card = a.content as {
      version: string;
      body: Record<string, unknown>[];
      actions: Record<string, unknown>[];
    };
    assert.equal(card.version, '1.5');
    assert.equal(card.body[0]!.text, 'Recording notice: this class will be recorded');
    assert.deepEqual(card.body[1]!.facts, [
      { title: 'Class', value: 'Biology ${not-an-expression}' },
      { title: 'When', value: 'Sat, 2 Mar 2030, 10:00 CET' },
    ]);
    assert.match(
      String(card.body[2]!.text),
      /recorded automatically.*By joining the meeting, you consent/,
    );
    assert.deepEqual(card.actions, [
      {
        type: 'Action.OpenUrl',
        title: 'Join the meeting',
        url: 'https://teams.microsoft.com/l/meetup-join/x',
      },
    ]);
  });

  it('has a "being recorded" heading at meeting start, and no join button without a URL', () => {
    const card = consentNoticeCard({
      occasion: 'started',
      title: 'Lab',
      when: 'now',
      notice: 'Custom wording.',
    }).content as { body: Record<string, unknown>[]; actions?: unknown[] };
    assert.equal(card.body[0]!.text, 'This meeting is being recorded');
    assert.equal(card.body[2]!.text, 'Custom wording.');
    assert.deepEqual(card.actions ?? [], []);
  });
});
