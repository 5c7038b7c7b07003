import net from 'node:net';

/**
 * A free TCP port on loopback, for a server whose URL must be known before it starts (the app
 * gives Graph its webhook URL; the Playground is told its port).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
