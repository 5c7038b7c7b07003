import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from './chromium.js';

/**
 * Renders the app icons from their SVG sources (appPackage/icons/*.svg) with Debian's chromium:
 * color.png at 192×192 and outline.png at 32×32 on a transparent background. The PNGs are
 * committed; rerun after changing an SVG:  npm run icons
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const browser = await launchChromium();
try {
  for (const [name, size] of [
    ['color', 192],
    ['outline', 32],
  ] as const) {
    const svg = fs.readFileSync(path.join(root, 'appPackage/icons', `${name}.svg`), 'utf8');
    const page = await browser.newPage({ viewport: { width: size, height: size } });
    await page.setContent(
      `<html><body style="margin:0;background:transparent">${svg}</body></html>`,
    );
    const out = path.join(root, 'appPackage', `${name}.png`);
    await page.locator('svg').screenshot({ path: out, omitBackground: true });
    await page.close();
    process.stdout.write(`wrote ${path.relative(root, out)}\n`);
  }
} finally {
  await browser.close();
}
