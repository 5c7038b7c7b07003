import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs, { readFileSync } from 'node:fs';
import { Agent, fetch as undiciFetch } from 'undici';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually, tempDir } from '../support/mongo.js';
import { connectPlayground, headingOf, PG } from '../support/playground.js';

/**
 * `npm start` as a newcomer runs it: the launcher as a real process, its children real
 * processes, talking over real sockets.
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function runLauncher(env: Record<string, string>): {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
} {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) =>
        ![
          'MONGODB_URI',
          'PORT',
          'ENV_NAME',
          'AAD_APP_CLIENT_ID',
          'AAD_APP_TENANT_ID',
          'SECRET_AAD_APP_CLIENT_SECRET',
        ].includes(k),
    ),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', 'dev/start.ts'], {
    cwd: root,
    env: { ...clean, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { child, output: () => out, exited };
}

/** Starts `npm start` on free ports with its own data dir and waits for the printed block. */
async function startLocal(): Promise<
  ReturnType<typeof runLauncher> & { url: string; data: ReturnType<typeof tempDir> }
> {
  const data = tempDir('cr-start-');
  const run = runLauncher({
    PORT: '0',
    LOCAL_MONGO_PORT: '0',
    GRAPH_SIM_PORT: '0',
    LOCAL_DATA_DIR: data.dir,
    LOG_LEVEL: 'warn',
  });
  const printed = await eventually(
    async () => /Press Ctrl-C to stop/.test(run.output()),
    30_000,
    100,
  );
  if (!printed) {
    run.child.kill('SIGKILL');
    data.remove();
    assert.fail(`the launcher printed no ready block:\n${run.output()}`);
  }
  const url = /App\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(run.output())?.[1];
  assert.ok(url, run.output());
  return { ...run, url, data };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false; // ESRCH: the process is gone, which is what the caller asks about
  }
}

describe('dev/start: the local launcher (npm start)', function () {
  this.timeout(60_000);

  it('exits non-zero with one line naming MONGODB_URI when it is nonsense', async () => {
    const run = runLauncher({ MONGODB_URI: 'nonsense' });
    assert.notEqual(await run.exited, 0);
    const lines = run.output().trim().split('\n');
    assert.equal(lines.length, 1, run.output());
    assert.match(lines[0]!, /^config error: MONGODB_URI is not a valid MongoDB connection string/);
  });

  it('exits non-zero naming a bad app setting before starting anything', async () => {
    const run = runLauncher({ PORT: 'http' });
    assert.notEqual(await run.exited, 0);
    assert.match(
      run.output().trim(),
      /^config error: PORT must be a whole number\. Set PORT to a free TCP port/,
    );
  });

  it('starts MongoDB, Graph, the app and the Agents Playground, prints where, and stops them on Ctrl-C', async () => {
    const run = await startLocal();
    try {
      assert.match(
        run.output(),
        /MongoDB\s+mongodb:\/\/127\.0\.0\.1:\d+\/\?directConnection=true \(local server, data in /,
      );
      assert.equal((await fetch(`${run.url}/healthz`)).status, 200);
      // The simulator runs over HTTPS with its own CA, and the app is pointed at it.
      const graph = /Graph\s+(https:\/\/127\.0\.0\.1:\d+) \(simulator: .+; CA (\S+)\)/.exec(
        run.output(),
      );
      assert.ok(graph, run.output());
      const ca = fs.readFileSync(path.resolve(root, graph[2]!.replace(/\)$/, '')), 'utf8');
      const dispatcher = new Agent({ connect: { ca } });
      const meta = await undiciFetch(`${graph[1]}/common/v2.0/.well-known/openid-configuration`, {
        dispatcher,
      });
      assert.equal(meta.status, 200);
      await dispatcher.close();
      assert.ok(
        await eventually(async () => (await fetch(`${run.url}/readyz`)).status === 200, 10_000),
        'ready',
      );
      // The Playground is up, speaks for the demo tenant, and a newcomer's first message works.
      assert.match(run.output(), /Try it: open the Playground/);
      const pgUrl = /Playground\s+(http:\/\/localhost:\d+)/.exec(run.output())?.[1];
      assert.ok(pgUrl, run.output());
      const pg = await connectPlayground(pgUrl.replace('localhost', '127.0.0.1'));
      try {
        const { thread, mark } = await pg.say(
          PG.general,
          'schedule "Biology 101 – Week 3" tomorrow 10:00 for 60 min',
        );
        await pg.waitFor(
          (e) => e.actionConversationId === thread && /^Recording notice/.test(headingOf(e)),
          'the consent notice',
          mark,
          30_000,
        );
      } finally {
        await pg.stop();
      }
      // The tab is built and served; its local sign-in knows the class just scheduled in.
      const tabUrl = /Tab\s+(http:\/\/\S+)/.exec(run.output())?.[1];
      assert.ok(tabUrl, run.output());
      const page = await fetch(tabUrl);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors/);
      assert.match(await page.text(), /<script type="module" src="app\.js">/);
      const classes = (await (await fetch(`${run.url}/api/tab/local/classes`)).json()) as {
        channelId: string;
      }[];
      assert.ok(
        classes.some((c) => c.channelId === new URL(tabUrl).searchParams.get('channelId')),
        JSON.stringify(classes),
      );
      const children = await childPids(run.child.pid!);
      assert.equal(
        children.length,
        4,
        `expected mongo, graph-sim, app and Playground children, got ${children.join(',')}`,
      );
      run.child.kill('SIGINT');
      assert.equal(await run.exited, 0);
      for (const pid of children) assert.equal(alive(pid), false, `child ${pid} still running`);
    } finally {
      run.child.kill('SIGKILL');
      run.data.remove();
    }
  });

  it('keeps the app up while the local MongoDB server is stopped, and recovers when it is restarted', async () => {
    const run = await startLocal();
    let restarted: ChildProcess | undefined;
    try {
      const status = async () => (await fetch(`${run.url}/readyz`)).status;
      assert.ok(await eventually(async () => (await status()) === 200, 10_000), 'ready');

      const [mongoPid] = (await childPids(run.child.pid!)).filter((pid) =>
        cmdlineOf(pid).includes('dev/mongo/main.ts'),
      );
      process.kill(mongoPid!, 'SIGTERM');
      assert.ok(
        await eventually(async () => (await status()) === 503, 5000),
        '/readyz 503 within 5 s',
      );
      const hint = /npm run mongo:dev -- --port (\d+) --dbpath (\S+)/;
      assert.ok(await eventually(async () => hint.test(run.output()), 5000), run.output());

      // Restart it exactly as the hint says.
      const [, port, dbpath] = hint.exec(run.output())!;
      restarted = spawn(
        process.execPath,
        ['--import', 'tsx', 'dev/mongo/main.ts', '--port', port!, '--dbpath', dbpath!],
        {
          cwd: root,
          stdio: 'ignore',
        },
      );
      assert.ok(
        await eventually(async () => (await status()) === 200, 5000),
        '/readyz 200 within 5 s, no app restart',
      );
      assert.equal(run.child.exitCode, null, 'the launcher is still running');
    } finally {
      run.child.kill('SIGINT');
      await run.exited;
      restarted?.kill('SIGTERM');
      if (restarted) await new Promise((r) => restarted!.once('exit', r));
      run.data.remove();
    }
  });

  it('takes the children down when the launcher itself is killed (no orphans)', async () => {
    const run = await startLocal();
    try {
      const children = await childPids(run.child.pid!);
      run.child.kill('SIGKILL');
      await run.exited;
      assert.ok(
        await eventually(async () => children.every((pid) => !alive(pid)), 10_000, 100),
        'children exited',
      );
    } finally {
      run.data.remove();
    }
  });
});

function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return ''; // the process is gone
  }
}

/** Direct node children of `pid` running our entry points, from /proc (Linux). */
async function childPids(pid: number): Promise<number[]> {
  const { readdir, readFile } = await import('node:fs/promises');
  const out: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8');
      if (
        ppid === pid &&
        /(dev\/mongo|dev\/graph-sim|src)\/main\.ts|m365agentsplayground\/cli\.js/.test(cmdline)
      )
        out.push(Number(entry));
    } catch {
      // the process ended while we looked; it is not a child any more
    }
  }
  return out;
}
