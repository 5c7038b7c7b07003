import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { buildTab } from '../../dev/build-tab.js';
import { recordingStream } from '../../dev/graph-sim/content.js';
import { ARTIFACTS, bytesOf, launchChromium } from '../support/browser.js';
import { eventually, startTestMongo, tempDir, type TestMongo } from '../support/mongo.js';
import { CHANNEL } from '../support/sync.js';
import { startTabWorld, type TabWorld } from '../support/tab.js';

/** What the tests read of the HTML video element (the test program has no DOM types). */
interface VideoLike {
  currentTime: number;
  duration: number;
  readyState: number;
  seeking: boolean;
}

/**
 * The built tab in Debian's chromium, in local mode (plain browser, the marked local sign-in),
 * against the app, the simulator and MongoDB: list, play and seek, transcript lines that seek,
 * download, the instructor's extra view, and the themes.
 */
describe('tab in a browser (chromium, local mode)', function () {
  this.timeout(120_000);
  let mongo: TestMongo;
  let t: TabWorld;
  let browser: Browser;
  let page: Page;
  const built = tempDir('cr-tab-');

  before(async () => {
    mongo = await startTestMongo();
    await buildTab(built.dir);
    t = await startTabWorld(mongo, {
      env: { TAB_LOCAL_SIGN_IN: 'true', TAB_STATIC_DIR: built.dir },
    });
    browser = await launchChromium();
    fs.mkdirSync(ARTIFACTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await t?.w.stop();
    await mongo.stop();
    built.remove();
  });
  beforeEach(async () => {
    page = await browser.newPage({ acceptDownloads: true, viewport: { width: 1100, height: 900 } });
  });
  afterEach(async () => {
    await page?.close();
  });

  const playerState = () =>
    page.locator('video').evaluate((el) => {
      const v = el as unknown as VideoLike;
      return {
        currentTime: v.currentTime,
        duration: v.duration,
        readyState: v.readyState,
        seeking: v.seeking,
      };
    });

  /** Polls the player (the page's CSP rightly forbids string evaluation). */
  const player = (ok: (v: VideoLike) => boolean) =>
    eventually(async () => ok(await playerState()), 10_000);

  async function signInAs(name: string, query = '') {
    await page.goto(`${t.url}/tab/?channelId=${encodeURIComponent(CHANNEL)}${query}`);
    await page.getByText('Local mode: simulated tenant and sign-in').waitFor();
    await page.getByRole('heading', { name: 'Local sign-in (simulated tenant)' }).waitFor();
    await page.getByRole('button', { name: new RegExp(`^${name}`) }).click();
    await page.locator('li.recording').first().waitFor();
  }

  it('signs a learner in locally, lists, plays and seeks, follows the transcript, downloads', async () => {
    const requests: { status: number; range?: string }[] = [];
    page.on('response', (res) => {
      if (res.url().includes('/api/downloads'))
        requests.push({ status: res.status(), range: res.request().headers().range });
    });
    await signInAs('Leo Learner');
    const row = page.locator('li.recording').first();
    await row.getByRole('heading', { name: 'Biology 101 – Week 3' }).waitFor();
    assert.match((await row.textContent()) ?? '', /1 h/);
    assert.equal(await row.locator('.stats').count(), 0, 'learners see no counters');

    // Play: the video element receives data from the app's streaming path, and seeks.
    await row.getByRole('button', { name: /^Play / }).click();
    const video = page.locator('video');
    assert.ok(await player((v) => v.readyState >= 1), 'metadata loaded');
    const duration = (await playerState()).duration;
    assert.ok(duration > 30 && duration < 35, `duration ${duration}`);
    await video.evaluate((v) => {
      (v as unknown as VideoLike).currentTime = 20;
    });
    assert.ok(
      await player((v) => !v.seeking && Math.abs(v.currentTime - 20) < 0.5 && v.readyState >= 2),
      'seeked to 0:20 with data there',
    );
    assert.ok(
      requests.some((r) => r.status === 206),
      'the player read ranges (206)',
    );
    await page.screenshot({ path: path.join(ARTIFACTS, 'tab-player.png') });

    // Transcript: lines with speakers and times; choosing one (keyboard) seeks the player there.
    await row.getByRole('button', { name: /^Transcript of / }).click();
    const lines = page.locator('.cues button.cue');
    await lines.first().waitFor();
    assert.equal(await lines.count(), 10);
    assert.match((await lines.first().textContent()) ?? '', /^0:04 Ina Organizer: Good morning/);
    await lines.nth(3).focus();
    await page.keyboard.press('Enter');
    assert.ok(
      await player((v) => !v.seeking && Math.abs(v.currentTime - 25) < 0.75),
      'the line seeked the player to 0:25',
    );
    await page.screenshot({ path: path.join(ARTIFACTS, 'tab-transcript.png'), fullPage: true });

    // Download: the browser saves the whole recording, byte for byte.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      row.getByRole('button', { name: /^Download / }).click(),
    ]);
    assert.match(download.suggestedFilename(), /^Biology 101 – Week 3\.mp4$/);
    const saved = fs.readFileSync((await download.path())!);
    const size = t.w.sim.state.tenant.recordingBytes;
    assert.deepEqual(saved, await bytesOf(recordingStream(t.recording._id, size)));

    // The counters tell the play from the download.
    assert.ok(
      await eventually(async () => {
        const r = await t.w.store.recordings.get(t.recording._id);
        return r?.downloadCount === 1 && r.viewCount === 1;
      }, 5000),
      JSON.stringify(await t.w.store.recordings.get(t.recording._id)),
    );
  });

  it("shows the instructor the counters and the class meetings' recording status", async () => {
    await signInAs('Ina Organizer');
    await page.getByRole('heading', { name: 'Class meetings (instructors)' }).waitFor();
    const stats = await page.locator('li.recording .stats').first().textContent();
    assert.match(stats ?? '', /\d+ views · \d+ downloads · card posted/);
    assert.match((await page.locator('.staff').textContent()) ?? '', /Recording on/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'tab-instructor.png'), fullPage: true });
  });

  it('searches transcripts, shows an empty result, and follows the theme', async () => {
    await signInAs('Leo Learner', '&theme=dark');
    assert.equal(await page.locator('html').getAttribute('data-theme'), 'dark');
    await page.getByLabel('Search titles and transcripts').fill('no such words anywhere');
    await page.keyboard.press('Enter');
    await page.getByText('No recording matches your search.').waitFor();
    await page.getByLabel('Search titles and transcripts').fill('hemolysis');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.locator('li.recording').first().waitFor();
    assert.equal(await page.locator('li.recording').count(), 1);
  });

  it('shows a clear error when the signed-in user is not in the class team', async () => {
    // Sign in as the learner on the biology class, then open the chemistry class's tab.
    await signInAs('Leo Learner');
    await page.goto(`${t.url}/tab/?channelId=${encodeURIComponent('19:chemistry@thread.tacv2')}`);
    await page
      .getByRole('alert')
      .filter({ hasText: /not a member of this class team/ })
      .waitFor();
  });
});
