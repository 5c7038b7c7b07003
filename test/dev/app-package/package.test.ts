import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { unzipSync } from 'fflate';
import { PNG } from 'pngjs';
import { BOT_COMMANDS } from '../../../bot/commands.js';
import { buildAppPackage, PackageError, type Problem } from '../../../dev/app-package/index.js';
import { tempDir } from '../../support/mongo.js';

/** A manifest as parsed JSON (its shape is the schema's business). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ManifestJson = Record<string, any>;

const root = path.resolve('.');
const ENVS = fs
  .readdirSync(path.join(root, 'env'))
  .filter((f) => /^\.env\.[a-z0-9-]+$/.test(f))
  .map((f) => f.slice('.env.'.length));

/** A scratch project: the real env files and appPackage sources, to break one thing at a time. */
function scratch() {
  const dir = tempDir('cr-pkg-');
  fs.cpSync(path.join(root, 'env'), path.join(dir.dir, 'env'), { recursive: true });
  for (const f of ['manifest.json', 'color.png', 'outline.png'])
    fs.cpSync(path.join(root, 'appPackage', f), path.join(dir.dir, 'appPackage', f));
  const manifestFile = path.join(dir.dir, 'appPackage', 'manifest.json');
  return {
    ...dir,
    edit(change: (m: ManifestJson) => void) {
      const m = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
      change(m);
      fs.writeFileSync(manifestFile, JSON.stringify(m, null, 2));
    },
    problems(env = 'local'): Problem[] {
      try {
        buildAppPackage({ root: dir.dir, env });
      } catch (err) {
        if (err instanceof PackageError) return err.problems;
        throw err;
      }
      return [];
    },
  };
}

describe('app package (npm run package)', function () {
  this.timeout(60_000);

  it('has an env file for local, dev and playground', () => {
    for (const env of ['local', 'dev', 'playground']) assert.ok(ENVS.includes(env), env);
  });

  for (const env of ENVS)
    it(`builds for env/.env.${env}: exactly the manifest and two icons, no placeholder left`, () => {
      const out = tempDir('cr-pkg-out-');
      try {
        const built = buildAppPackage({ root, env, outDir: out.dir });
        assert.equal(path.basename(built.zip), `appPackage.${env}.zip`);
        const files = unzipSync(fs.readFileSync(built.zip));
        assert.deepEqual(Object.keys(files).sort(), ['color.png', 'manifest.json', 'outline.png']);
        const text = Buffer.from(files['manifest.json']!).toString('utf8');
        assert.doesNotMatch(text, /\$\{\{/);
        assert.equal(text, fs.readFileSync(built.manifest, 'utf8'));
        const manifest = JSON.parse(text);
        assert.equal(manifest.manifestVersion, '1.30');
        assert.deepEqual(
          manifest.bots[0].commandLists[0].commands.map((c: { title: string }) => c.title),
          BOT_COMMANDS.map((c) => c.name),
        );
        assert.ok(manifest.validDomains.length > 0);
        const color = PNG.sync.read(Buffer.from(files['color.png']!));
        assert.deepEqual([color.width, color.height], [192, 192]);
      } finally {
        out.remove();
      }
    });

  it('ships real icons: color 192×192; outline 32×32, white on transparent', () => {
    const outline = PNG.sync.read(fs.readFileSync(path.join(root, 'appPackage/outline.png')));
    assert.deepEqual([outline.width, outline.height], [32, 32]);
    let drawn = 0;
    for (let i = 0; i < outline.data.length; i += 4) if (outline.data[i + 3]! > 0) drawn++;
    assert.ok(drawn > 100 && drawn < 32 * 32 - 100, `${drawn} drawn pixels: a shape, not a fill`);
  });

  it('fails on a missing required field, with its JSON path and the fix', () => {
    const s = scratch();
    try {
      s.edit((m) => delete m.accentColor);
      const [p] = s.problems();
      assert.equal(p?.path, '$');
      assert.match(p!.message, /missing the required field "accentColor"/);
      assert.match(p!.fix, /Add "accentColor"/);
    } finally {
      s.remove();
    }
  });

  it('fails on a wrong icon size', () => {
    const s = scratch();
    try {
      fs.copyFileSync(
        path.join(root, 'appPackage/outline.png'),
        path.join(s.dir, 'appPackage/color.png'),
      );
      const problems = s.problems();
      assert.equal(problems.length, 1, JSON.stringify(problems));
      assert.equal(problems[0]!.path, '$.icons.color');
      assert.match(problems[0]!.message, /color\.png is 32×32, not 192×192/);
    } finally {
      s.remove();
    }
  });

  it('fails on an outline icon that is not white on transparent', () => {
    const s = scratch();
    try {
      const png = new PNG({ width: 32, height: 32 });
      png.data.fill(255);
      for (let i = 0; i < png.data.length; i += 4) png.data[i] = 0; // cyan, opaque
      fs.writeFileSync(path.join(s.dir, 'appPackage/outline.png'), PNG.sync.write(png));
      const messages = s.problems().map((p) => `${p.path} ${p.message}`);
      assert.ok(messages.some((m) => /\$\.icons\.outline .*no transparent background/.test(m)));
      assert.ok(messages.some((m) => /\$\.icons\.outline .*not white/.test(m)));
    } finally {
      s.remove();
    }
  });

  it('fails on a URL whose domain validDomains does not cover', () => {
    const s = scratch();
    try {
      s.edit((m) => (m.developer.privacyUrl = 'https://elsewhere.example/privacy'));
      const [p, ...rest] = s.problems();
      assert.equal(rest.length, 0);
      assert.equal(p!.path, '$.developer.privacyUrl');
      assert.match(p!.message, /elsewhere\.example is not in validDomains/);
    } finally {
      s.remove();
    }
  });

  it('fails on a missing variable, naming it, the JSON path and the env file', () => {
    const s = scratch();
    try {
      const file = path.join(s.dir, 'env/.env.dev');
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/^TEAMS_APP_ID=.*$/m, ''));
      const [p] = s.problems('dev');
      assert.equal(p!.path, '$.id');
      assert.match(p!.message, /\$\{\{TEAMS_APP_ID\}\}, which is not set/);
      assert.match(p!.fix, /Set TEAMS_APP_ID in env\/\.env\.dev/);
    } finally {
      s.remove();
    }
  });

  it('fails on a non-semver version, a non-GUID id, and a command menu unlike the bot', () => {
    const s = scratch();
    try {
      s.edit((m) => {
        m.version = 'v1';
        m.id = 'not-a-guid';
        m.bots[0].commandLists[0].commands.push({ title: 'delete', description: 'x' });
      });
      const paths = s.problems().map((p) => p.path);
      for (const expected of ['$.version', '$.id', '$.bots[0].commandLists[0].commands'])
        assert.ok(paths.includes(expected), `${expected} in ${paths.join(', ')}`);
    } finally {
      s.remove();
    }
  });

  it('runs as `npm run package -- --env <name>`: one line per problem, exit 1', async () => {
    const run = promisify(execFile);
    const ok = await run(process.execPath, [
      '--import',
      'tsx',
      'dev/app-package/cli.ts',
      '--env',
      'dev',
    ]);
    assert.match(ok.stdout, /app package: appPackage\/build\/appPackage\.dev\.zip/);
    await assert.rejects(
      run(process.execPath, ['--import', 'tsx', 'dev/app-package/cli.ts', '--env', 'nope']),
      (err: { code: number; stderr: string }) =>
        err.code === 1 && /env\/\.env\.nope: does not exist/.test(err.stderr),
    );
  });
});
