import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedPost {
  path: string;
  body: { value: Record<string, unknown>[]; validationTokens?: string[] };
}

/** How the receiver answers; tests change it between steps. */
export interface ReceiverBehaviour {
  /** Echo this instead of the validation token (a broken endpoint). */
  wrongEcho?: boolean;
  validationDelayMs?: number;
  /** Status for notification POSTs (default 202). */
  status?: number;
  delayMs?: number;
  /** Answer the next N notification POSTs with 500 before returning to `status`. */
  failNext?: number;
}

/**
 * A stand-in for the app's webhook: answers Graph's validation handshake and records
 * notifications. Loopback http, which the simulator accepts only when the tenant allows it.
 */
export async function startReceiver(behaviour: ReceiverBehaviour = {}) {
  const posts: ReceivedPost[] = [];
  const validations: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const token = url.searchParams.get('validationToken');
      if (token !== null) {
        validations.push(url.pathname);
        setTimeout(() => {
          // Never chain writeHead(): restify (loaded in the same test process) makes it return nothing.
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end(behaviour.wrongEcho ? `${token}x` : token);
        }, behaviour.validationDelayMs ?? 0);
        return;
      }
      posts.push({ path: url.pathname, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      const status =
        (behaviour.failNext ?? 0) > 0 ? (behaviour.failNext!--, 500) : (behaviour.status ?? 202);
      setTimeout(() => {
        res.writeHead(status);
        res.end();
      }, behaviour.delayMs ?? 0);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    behaviour,
    posts,
    validations,
    notificationUrl: `${base}/api/notifications`,
    lifecycleUrl: `${base}/api/lifecycle`,
    items: () => posts.filter((p) => p.path === '/api/notifications').flatMap((p) => p.body.value),
    lifecycleItems: () =>
      posts.filter((p) => p.path === '/api/lifecycle').flatMap((p) => p.body.value),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
