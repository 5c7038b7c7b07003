import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Request, Response, Server } from 'restify';
import { NotFoundError } from '../errors/index.js';
import type { Logger } from '../logging/index.js';
import { sendError } from '../server/index.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json',
};
const NAME = /^[a-z0-9][a-z0-9.-]{0,80}\.(html|js|css|svg|png|map)$/;

/**
 * Where the tab may be framed: Teams on the web, desktop and mobile, and Microsoft 365 (the
 * hosts Teams documents for tabs). Scripts, styles and media come from this app only.
 */
export const TAB_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "media-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'self' https://teams.microsoft.com https://*.teams.microsoft.com https://*.teams.microsoft.us https://*.cloud.microsoft https://*.office.com https://*.microsoft365.com https://*.skype.com",
].join('; ');

/**
 * Serves the built tab (`npm run build` writes it; nothing is built at request time) under
 * `/tab/`. Only plain file names in the build folder are served.
 */
export function registerStaticTab(server: Server, dir: string, logger: Logger): void {
  const root = path.resolve(dir);
  if (!fs.existsSync(path.join(root, 'index.html')))
    logger.warn({ dir: root }, 'the tab is not built: run `npm run build` (npm start does)');
  const serve = async (req: Request, res: Response, name: string) => {
    try {
      if (!NAME.test(name)) throw new NotFoundError('No such file in the tab.');
      const file = path.join(root, name);
      let stat: fs.Stats;
      try {
        stat = await fs.promises.stat(file);
      } catch {
        throw new NotFoundError(
          name === 'index.html' || name === 'config.html'
            ? 'The tab is not built. Run `npm run build`.'
            : 'No such file in the tab.',
        );
      }
      res.writeHead(200, {
        'content-type': TYPES[path.extname(name)]!,
        'content-length': stat.size,
        'cache-control': name.endsWith('.html') ? 'no-cache' : 'public, max-age=300',
        'content-security-policy': TAB_CSP,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      });
      await pipeline(fs.createReadStream(file), res);
    } catch (err) {
      if (!res.headersSent) sendError(res, err, req.requestId);
      else res.destroy();
    }
  };
  server.get('/tab', async (req: Request, res: Response) => {
    const search = new URL(req.url ?? '/', 'http://x').search;
    res.header('location', `/tab/${search}`);
    res.send(302);
  });
  server.get('/tab/', async (req: Request, res: Response) => serve(req, res, 'index.html'));
  server.get('/tab/:file', async (req: Request, res: Response) =>
    serve(req, res, String(req.params.file)),
  );
}
