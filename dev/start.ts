import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEnv } from 'node:util';
import { loadConfig, loadLauncherConfig, redactUri, type Env } from '../src/config/index.js';
import { ConfigError } from '../src/errors/index.js';
import { DEMO } from './graph-sim/tenant.js';
import { makeEncryptionCertificatePem } from './notification-cert.js';
import { buildTab } from './build-tab.js';
import { freePort } from './net.js';

/**
 * `npm start`: the whole app locally, with no cloud account. Loads env/.env.<ENV_NAME> (and its
 * .user file), starts the local MongoDB-compatible server unless MONGODB_URI is set, then the
 * app, and prints what runs where. Ctrl-C stops every child before the launcher exits.
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function readEnvFile(file: string): Env {
  return fs.existsSync(file) ? parseEnv(fs.readFileSync(file, 'utf8')) : {};
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/** Forks a TypeScript entry point with an IPC channel and waits for its "listening" message. */
function launch(
  name: string,
  entry: string,
  args: string[],
  env: Env,
): Promise<{ child: ChildProcess; info: Record<string, unknown> }> {
  const child = fork(path.join(root, entry), args, {
    cwd: root,
    env: env as NodeJS.ProcessEnv,
    execArgv: ['--import', 'tsx', '--disable-warning=DEP0111'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (msg: Record<string, unknown>) => {
      if (msg?.type === 'listening') resolve({ child, info: msg });
    });
    child.once('exit', (code) =>
      reject(new Error(`${name} exited with status ${code} before it was ready`)),
    );
  });
}

/**
 * Starts the Microsoft 365 Agents Playground (the npm package, run offline) against the app's
 * /api/messages, with the repo's .m365agentsplayground.yml, and waits until it listens.
 */
function launchPlayground(
  appUrl: string,
  port: number,
  logFile: string,
  env: Env,
): Promise<{ child: ChildProcess; url: string }> {
  const cli = createRequire(import.meta.url).resolve('@microsoft/m365agentsplayground/cli.js');
  const child = fork(
    cli,
    ['start', '-e', `${appUrl}/api/messages`, '-c', 'msteams', '-p', String(port), '--dt'],
    {
      cwd: root,
      execArgv: ['--import', path.join(root, 'dev', 'exit-with-parent.mjs')],
      env: {
        ...(env as NodeJS.ProcessEnv),
        TEAMSAPPTESTER_BROWSER: 'none',
        M365_AGENTS_PLAYGROUND_CONFIG_PATH: path.join(root, '.m365agentsplayground.yml'),
        M365_AGENTS_PLAYGROUND_LOGFILE: logFile,
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    },
  );
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-8192);
      // It takes another port when the asked one is busy, and says which.
      const m = /Listening on (\d+)/.exec(output);
      if (m) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve({ child, url: `http://localhost:${m[1]}` });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => (output = (output + c.toString('utf8')).slice(-8192)));
    child.once('exit', (code) =>
      reject(
        new Error(
          `the Agents Playground exited with status ${code} before it was ready (log: ${logFile}):\n${output.trim()}`,
        ),
      ),
    );
  });
}

function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function main(): Promise<void> {
  const fromShell: Env = { ...process.env };
  const envName = fromShell.ENV_NAME || 'local';
  const fileEnv: Env = {
    ...readEnvFile(path.join(root, 'env', `.env.${envName}`)),
    ...readEnvFile(path.join(root, 'env', `.env.${envName}.user`)),
  };
  // The shell wins over files, so `MONGODB_URI=… npm start` always takes effect.
  const env: Env = { ...fileEnv, ...fromShell };
  // The ids in env/.env.<name> are also the app package's. Without their secrets they do not
  // make a real bot or tenant: the bot runs without credentials (the Playground needs none) and
  // Graph is the simulator.
  const realGraph = !!(env.SECRET_AAD_APP_CLIENT_SECRET || env.AAD_APP_CLIENT_CERTIFICATE_FILE);
  const appBase: Env = { ...env };
  if (!env.SECRET_BOT_PASSWORD) delete appBase.BOT_ID;
  if (!realGraph) for (const k of ['AAD_APP_CLIENT_ID', 'AAD_APP_TENANT_ID']) delete appBase[k];
  let launcher;
  try {
    launcher = loadLauncherConfig(env);
    // Check the app's settings now, so a bad value fails here in one line, not in a child.
    loadConfig({ ...appBase, MONGODB_URI: launcher.mongodbUri ?? 'mongodb://127.0.0.1:1' });
  } catch (err) {
    if (err instanceof ConfigError) fail(`config error: ${err.message}`);
    throw err;
  }

  let mongo: ChildProcess | undefined;
  let graphSim: ChildProcess | undefined;
  let app: ChildProcess | undefined;
  let playground: ChildProcess | undefined;
  let stopping = false;
  const shutdown = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await stopChild(playground);
    await stopChild(app);
    await stopChild(graphSim);
    await stopChild(mongo);
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  let mongoUri = launcher.mongodbUri;
  let mongoLine: string;
  const dataDir = path.resolve(root, launcher.localDataDir, 'mongo');
  try {
    if (mongoUri) {
      mongoLine = `${redactUri(mongoUri)} (from MONGODB_URI)`;
    } else {
      const started = await launch(
        'the local MongoDB-compatible server',
        'dev/mongo/main.ts',
        ['--port', String(launcher.localMongoPort), '--dbpath', dataDir],
        env,
      );
      mongo = started.child;
      mongoUri = String(started.info.uri);
      mongoLine = `${mongoUri} (local server, data in ${path.relative(process.cwd(), dataDir) || dataDir})`;
    }
    // Graph: the user's own Entra app when configured, otherwise the simulator with a demo
    // tenant and a client secret made fresh for this run (never written anywhere).
    const appEnv: Env = { ...appBase, MONGODB_URI: mongoUri };
    let graphLine: string;
    if (realGraph) {
      graphLine = `${env.GRAPH_BASE_URL || 'https://graph.microsoft.com'} (Entra app ${env.AAD_APP_CLIENT_ID})`;
    } else {
      const secret = randomBytes(24).toString('base64url');
      const sim = await launch(
        'the Graph simulator',
        'dev/graph-sim/main.ts',
        [
          '--port',
          String(launcher.graphSimPort),
          '--tls-dir',
          path.resolve(root, launcher.localDataDir, 'graph-sim'),
          '--time-scale',
          String(launcher.localTimeScale),
        ],
        { ...env, GRAPH_SIM_APP_SECRET: secret },
      );
      graphSim = sim.child;
      const simUrl = String(sim.info.url);
      Object.assign(appEnv, {
        AAD_APP_TENANT_ID: String(sim.info.tenantId),
        AAD_APP_CLIENT_ID: DEMO.appClientId,
        SECRET_AAD_APP_CLIENT_SECRET: secret,
        AAD_APP_OAUTH_AUTHORITY_HOST: simUrl,
        GRAPH_BASE_URL: simUrl,
        GRAPH_CA_FILE: String(sim.info.caPath),
      });
      // Recording sync against the simulator: it delivers to the app over loopback http (its
      // stand-in for a dev tunnel), with rich notifications encrypted for a local certificate,
      // and download links signed with a key made fresh for this run.
      const port = Number(env.PORT ?? 3978) || (await freePort());
      const certFile = path.resolve(root, launcher.localDataDir, 'notification-cert.pem');
      if (!fs.existsSync(certFile)) {
        fs.mkdirSync(path.dirname(certFile), { recursive: true });
        fs.writeFileSync(certFile, await makeEncryptionCertificatePem(), { mode: 0o600 });
      }
      Object.assign(appEnv, {
        PORT: String(port),
        PUBLIC_BASE_URL: env.PUBLIC_BASE_URL || `http://127.0.0.1:${port}`,
        NOTIFICATION_CERT_FILE: env.NOTIFICATION_CERT_FILE || certFile,
        SECRET_DOWNLOAD_LINK_KEY:
          env.SECRET_DOWNLOAD_LINK_KEY || randomBytes(32).toString('base64url'),
        RECONCILE_INTERVAL_SECONDS: env.RECONCILE_INTERVAL_SECONDS || '15',
        // A plain browser has no Teams client to sign in with: the tab offers the demo users.
        TAB_LOCAL_SIGN_IN: 'true',
      });
      graphLine = `${simUrl} (simulator: ${String(sim.info.tenantName)}, meetings run ${launcher.localTimeScale}x; CA ${path.relative(process.cwd(), String(sim.info.caPath))})`;
    }
    // The tab is static files built here, never at request time.
    appEnv.TAB_STATIC_DIR = await buildTab(path.resolve(root, 'dist', 'tab'));
    const started = await launch('the app', 'src/main.ts', [], appEnv);
    app = started.child;
    const url = String(started.info.url);
    const lines = [
      '',
      `Classroom Recorder is running locally (env: ${launcher.envName})`,
      `  App         ${url}`,
      `  Health      ${url}/healthz   Ready: ${url}/readyz`,
      `  MongoDB     ${mongoLine}`,
      `  Graph       ${graphLine}`,
      `  Tab         ${url}/tab/?channelId=${encodeURIComponent(DEMO.generalChannelId)}`,
    ];
    if (launcher.playground) {
      const logFile = path.resolve(root, launcher.localDataDir, 'playground.log');
      const pg = await launchPlayground(url, launcher.playgroundPort, logFile, env);
      playground = pg.child;
      lines.push(
        `  Playground  ${pg.url}  (Microsoft 365 Agents Playground: Teams, offline)`,
        '',
        'Try it: open the Playground in your browser. You are Dr. Maya Lindqvist, who teaches',
        'the "Biology 101" team. Pick Teams Channels > Biology 101 > General and type',
        '  @Classroom Recorder schedule "Biology 101 – Week 3" tomorrow 10:00 for 60 min',
        'or "@Classroom Recorder schedule" alone for the form. The recording notice follows.',
        `When the class has ended (meetings run ${launcher.localTimeScale}x), its recording card arrives, and`,
        'the Tab lists it: sign in there as a demo user (local mode), then Play, Download or',
        'read the transcript.',
      );
    }
    lines.push('Press Ctrl-C to stop.', '');
    process.stdout.write(lines.join('\n'));
    const onUnexpectedExit = (name: string) => (code: number | null) => {
      if (stopping) return;
      process.stderr.write(`${name} exited unexpectedly (status ${code}); stopping.\n`);
      void shutdown(1);
    };
    app.once('exit', onUnexpectedExit('the app'));
    graphSim?.once('exit', onUnexpectedExit('the Graph simulator'));
    playground?.once('exit', onUnexpectedExit('the Agents Playground'));
    // The app survives a MongoDB outage by design (/readyz says 503 until it is back), so a
    // stopped local server does not take the app down; say how to bring it back instead.
    mongo?.once('exit', (code) => {
      if (stopping) return;
      const port = new URL(mongoUri!.replace(/^mongodb:/, 'http:')).port;
      process.stderr.write(
        `The local MongoDB-compatible server stopped (status ${code}). The app keeps running and /readyz answers 503.\n` +
          `Start it again with: npm run mongo:dev -- --port ${port} --dbpath ${dataDir}\n`,
      );
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    await shutdown(1);
  }
}

void main();
