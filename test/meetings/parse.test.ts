import assert from 'node:assert/strict';
import { parseScheduleCommand, zoneOffsetMinutes } from '../../src/meetings/parse.js';

// A fixed "now": Friday 1 March 2030, 12:00 UTC. No test reads the wall clock.
const now = new Date('2030-03-01T12:00:00Z');
const berlin = { now, timeZone: 'Europe/Berlin' };

function ok(text: string, options = berlin) {
  const r = parseScheduleCommand(text, options);
  assert.ok(r.ok, r.ok ? '' : r.error);
  return r.value;
}

describe('meetings: parsing a typed schedule command', () => {
  it("reads the documented example in the user's zone", () => {
    const v = ok('schedule "Biology 101 – Week 3" tomorrow 10:00 for 60 min');
    assert.equal(v.title, 'Biology 101 – Week 3');
    assert.equal(v.start.toISOString(), '2030-03-02T09:00:00.000Z', '10:00 in Berlin (UTC+1)');
    assert.equal(v.end.toISOString(), '2030-03-02T10:00:00.000Z');
    assert.equal(v.timeZone, 'Europe/Berlin');
    assert.equal(v.recordingOffRequest, undefined);
  });

  const cases: [string, string, string, number][] = [
    [
      'schedule Chemistry next monday at 2pm for 1.5 hours',
      'Chemistry',
      '2030-03-04T13:00:00.000Z',
      90,
    ],
    ['schedule “Lab” on 2030-03-05 at 14:30 for 45 minutes', 'Lab', '2030-03-05T13:30:00.000Z', 45],
    ["schedule 'Review' March 4 9am", 'Review', '2030-03-04T08:00:00.000Z', 60],
    ['schedule Maths friday 9:15 for 1h 30m', 'Maths', '2030-03-08T08:15:00.000Z', 90],
    [
      '@Classroom Recorder schedule "Seminar" today 8pm for 2:00',
      'Seminar',
      '2030-03-01T19:00:00.000Z',
      120,
    ],
  ];
  for (const [text, title, start, minutes] of cases) {
    it(`reads: ${text}`, () => {
      const v = ok(text);
      assert.equal(v.title, title);
      assert.equal(v.start.toISOString(), start);
      assert.equal(v.durationMinutes, minutes);
    });
  }

  it('keeps the wall-clock time across a daylight-saving change', () => {
    // Berlin moves to UTC+2 on 31 March 2030: 10:00 on 2 April is 08:00 UTC.
    const v = ok('schedule "After DST" 2030-04-02 10:00');
    assert.equal(v.start.toISOString(), '2030-04-02T08:00:00.000Z');
    assert.equal(zoneOffsetMinutes('Europe/Berlin', new Date('2030-04-02T08:00:00Z')), 120);
  });

  it('uses the default zone and duration when none are given', () => {
    const v = ok('schedule "Art" tomorrow 10:00', {
      now,
      timeZone: 'UTC',
      defaultDurationMinutes: 50,
    } as never);
    assert.equal(v.start.toISOString(), '2030-03-02T10:00:00.000Z');
    assert.equal(v.durationMinutes, 50);
  });

  it('notices an attempt to turn recording off (and still schedules)', () => {
    for (const text of [
      'schedule "Private" tomorrow 10:00 --no-record',
      'schedule "Private" tomorrow 10:00 without recording',
      'schedule "Private" tomorrow 10:00 recording: off',
      'schedule "Private" tomorrow 10:00 don\'t record',
    ]) {
      const v = ok(text);
      assert.ok(v.recordingOffRequest, text);
      assert.equal(v.title, 'Private');
      assert.equal(v.start.toISOString(), '2030-03-02T09:00:00.000Z');
    }
  });

  it('explains what is wrong, with an example', () => {
    const cases: [string, RegExp][] = [
      ['schedule', /For example: schedule "Biology 101/],
      ['schedule "Biology" sometime soon', /couldn't find a date and time/],
      ['schedule "Biology" yesterday 10:00', /already passed/],
      ['schedule "Biology" tomorrow 10:00 for 2 min', /from 5 minutes to 24 hours/],
      ['schedule tomorrow 10:00', /What is the class called/],
    ];
    for (const [text, message] of cases) {
      const r = parseScheduleCommand(text, berlin);
      assert.equal(r.ok, false, text);
      assert.match(r.ok ? '' : r.error, message, text);
    }
    const zone = parseScheduleCommand('schedule "X" tomorrow 10:00', {
      now,
      timeZone: 'Mars/Olympus',
    });
    assert.equal(zone.ok, false);
  });
});
