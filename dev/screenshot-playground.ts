import { launchChromium } from './chromium.js';

/**
 * Retakes the README's Playground screenshot: with `npm start` running, it opens the
 * Playground in Debian's chromium, types the first command as a newcomer would (with the
 * @mention picker), and saves what the channel shows.
 *   npm run screenshot:playground [-- <playground url> <output png>]
 */
const [url = 'http://127.0.0.1:56150/', out = 'docs/images/playground-schedule.png'] =
  process.argv.slice(2);
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  await page.goto(url);
  await page.getByText('General', { exact: true }).click();
  await page.locator('[data-lexical-editor="true"]').click();
  await page.keyboard.type('@Class', { delay: 50 });
  await page.getByText('Classroom Recorder', { exact: true }).last().click();
  await page.keyboard.type(' schedule "Biology 101 – Week 3" tomorrow 10:00 for 60 min');
  await page.getByRole('button', { name: 'Post' }).click();
  await page.getByText('Recording notice: this class will be recorded').waitFor();
  await page.screenshot({ path: out });
  process.stdout.write(`saved ${out}\n`);
} finally {
  await browser.close();
}
