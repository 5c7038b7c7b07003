import path from 'node:path';
import { parseArgs } from 'node:util';
import { demoTenant, startGraphSim } from './index.js';

/**
 * `npm run graph-sim -- --port 8443 --time-scale 60`
 * Runs the Graph + Entra ID simulator as its own process with the demo tenant. Forked by the
 * launcher, it reports its URL over IPC and exits when the parent goes away.
 */
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8443' },
    'tls-dir': { type: 'string', default: '.data/graph-sim' },
    'time-scale': { type: 'string', default: '1' },
  },
});

function fail(message: string): never {
  process.stderr.write(`graph-sim: ${message}\n`);
  process.exit(1);
}

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535)
  fail(`--port must be 0-65535, got "${values.port}"`);
const scale = Number(values['time-scale']);
if (!(scale > 0 && scale <= 100_000)) fail('--time-scale must be > 0 and <= 100000');

try {
  // The demo app's client secret: from the launcher (so the app can use it), or fresh.
  const tenant = demoTenant(process.env.GRAPH_SIM_APP_SECRET || undefined);
  const sim = await startGraphSim({
    port,
    tlsDir: path.resolve(values['tls-dir']),
    timeScale: scale,
    tenant,
  });
  const stop = (): void => {
    void sim.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('disconnect', stop);
  const info = {
    tenantName: sim.state.tenant.displayName,
    type: 'listening',
    url: sim.url,
    caPath: sim.caPath,
    authority: sim.authority(),
    tenantId: sim.state.tenant.id,
  };
  if (process.send) process.send(info);
  else
    process.stdout.write(
      `graph-sim: ${sim.url} (authority ${sim.authority()}, CA ${sim.caPath})\n`,
    );
} catch (err) {
  fail((err as Error).message);
}
