import path from 'node:path';

export { launchChromium } from '../../dev/chromium.js';

/** Where browser tests leave screenshots (git-ignored; CI keeps them as artifacts). */
export const ARTIFACTS = path.resolve('test-artifacts');

/** A whole stream in memory (small test recordings only). */
export async function bytesOf(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
