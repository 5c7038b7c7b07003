import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseEnv } from 'node:util';
import AjvDraft04, { type ErrorObject, type ValidateFunction } from 'ajv-draft-04';
import addFormats from 'ajv-formats';
import { zipSync } from 'fflate';
import { PNG } from 'pngjs';
import { BOT_COMMANDS } from '../../bot/commands.js';

/** A manifest as parsed JSON (its shape is the schema's business). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ManifestJson = Record<string, any>;

/** The manifest schema version we build for: the newest shipped in @microsoft/app-manifest. */
export const MANIFEST_VERSION = '1.30';

/** One thing wrong with the package: where (a JSON path or a file), what, and how to fix it. */
export interface Problem {
  path: string;
  message: string;
  fix: string;
}

export class PackageError extends Error {
  constructor(readonly problems: Problem[]) {
    super(problems.map((p) => `${p.path}: ${p.message}. Fix: ${p.fix}`).join('\n'));
  }
}

export interface PackageOptions {
  /** The project root (env/, appPackage/). */
  root: string;
  env: string;
  /** Where the manifest and icons are read from (appPackage/ by default; tests use copies). */
  sourceDir?: string;
  outDir?: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;
const PLACEHOLDER = /\$\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** `env/.env.<name>` plus its git-ignored `.user` file (secrets), the later winning. */
export function readEnvFiles(root: string, env: string): Record<string, string> {
  const base = path.join(root, 'env', `.env.${env}`);
  if (!fs.existsSync(base))
    throw new PackageError([
      {
        path: path.relative(root, base),
        message: 'does not exist',
        fix: `Create it, or pick another --env (files in env/: ${fs
          .readdirSync(path.join(root, 'env'))
          .filter((f) => /^\.env\.[^.]+$/.test(f))
          .map((f) => f.slice(5))
          .join(', ')}).`,
      },
    ]);
  const out: Record<string, string> = {};
  for (const file of [base, `${base}.user`])
    if (fs.existsSync(file)) Object.assign(out, parseEnv(fs.readFileSync(file, 'utf8')));
  return out;
}

/** Fills `${{VAR}}` in every string of the manifest; a missing variable names its JSON path. */
function fill(
  value: unknown,
  vars: Record<string, string>,
  at: string,
  problems: Problem[],
  env: string,
): unknown {
  if (typeof value === 'string')
    return value.replace(PLACEHOLDER, (whole, name: string) => {
      const v = vars[name];
      if (v === undefined || v === '') {
        problems.push({
          path: at,
          message: `uses \${{${name}}}, which is not set`,
          fix: `Set ${name} in env/.env.${env} (or env/.env.${env}.user for a secret).`,
        });
        return whole;
      }
      return v;
    });
  if (Array.isArray(value)) return value.map((v, i) => fill(v, vars, `${at}[${i}]`, problems, env));
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, fill(v, vars, `${at}.${k}`, problems, env)]),
    );
  return value;
}

let schemaValidator: ValidateFunction | undefined;
/** The official schema, bundled in @microsoft/app-manifest: no network needed. */
function validator() {
  if (schemaValidator) return schemaValidator;
  const require = createRequire(import.meta.url);
  const file = require.resolve(
    `@microsoft/app-manifest/build/json-schemas/teams/v${MANIFEST_VERSION}/MicrosoftTeams.schema.json`,
  );
  // The published schema spells a BEL as "\a" in one regex, which JavaScript rejects (known
  // upstream issue); read it as \x07.
  const schema = JSON.parse(fs.readFileSync(file, 'utf8').replace(/\\\\a/g, '\\\\x07'));
  const ajv = new AjvDraft04.default({ allErrors: true, strict: false });
  addFormats.default(ajv, ['uri', 'email', 'regex']);
  schemaValidator = ajv.compile(schema);
  return schemaValidator;
}

function jsonPath(instancePath: string): string {
  return `$${instancePath
    .split('/')
    .slice(1)
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p.replace(/~1/g, '/').replace(/~0/g, '~')}`))
    .join('')}`;
}

function schemaProblems(manifest: unknown): Problem[] {
  const validate = validator();
  if (validate(manifest)) return [];
  return (validate.errors ?? []).map((e: ErrorObject) => {
    const at = jsonPath(e.instancePath);
    const p = e.params as Record<string, unknown>;
    if (e.keyword === 'required')
      return {
        path: at,
        message: `is missing the required field "${String(p.missingProperty)}"`,
        fix: `Add "${String(p.missingProperty)}" (see the manifest schema v${MANIFEST_VERSION}).`,
      };
    if (e.keyword === 'additionalProperties')
      return {
        path: `${at}.${String(p.additionalProperty)}`,
        message: 'is not a field of this manifest version',
        fix: 'Remove it or correct its spelling.',
      };
    return {
      path: at,
      message: `${e.message ?? 'is not valid'}${p && Object.keys(p).length ? ` (${JSON.stringify(p)})` : ''}`,
      fix: 'Correct the value as the schema requires.',
    };
  });
}

/** Every http(s) URL in the manifest, with its JSON path. */
function urls(value: unknown, at = '$', out: { path: string; url: string }[] = []) {
  if (typeof value === 'string' && /^https?:\/\//i.test(value)) out.push({ path: at, url: value });
  else if (Array.isArray(value)) value.forEach((v, i) => urls(v, `${at}[${i}]`, out));
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) if (k !== '$schema') urls(v, `${at}.${k}`, out);
  return out;
}

function covered(host: string, domains: string[]): boolean {
  return domains.some((d) => {
    const domain = d.toLowerCase().replace(/:\d+$/, '');
    if (domain.startsWith('*.')) return host.endsWith(domain.slice(1)) && host !== domain.slice(2);
    return host === domain;
  });
}

/** What the schema cannot check: icons, domains, versions, ids, and the bot's command menu. */
function semanticProblems(manifest: ManifestJson, sourceDir: string): Problem[] {
  const problems: Problem[] = [];
  if (typeof manifest.version === 'string' && !SEMVER.test(manifest.version))
    problems.push({
      path: '$.version',
      message: `"${manifest.version}" is not a semantic version`,
      fix: 'Use MAJOR.MINOR.PATCH, e.g. 1.0.0.',
    });
  const ids: [string, unknown][] = [
    ['$.id', manifest.id],
    ['$.webApplicationInfo.id', manifest.webApplicationInfo?.id],
    ...((manifest.bots ?? []) as { botId?: string }[]).map(
      (b, i) => [`$.bots[${i}].botId`, b.botId] as [string, unknown],
    ),
  ];
  for (const [at, id] of ids)
    if (id !== undefined && !(typeof id === 'string' && GUID.test(id)))
      problems.push({
        path: at,
        message: `"${String(id)}" is not a GUID`,
        fix: 'Use the id Teams, Entra or Bot Framework gave you (a GUID).',
      });

  const domains: string[] = manifest.validDomains ?? [];
  for (const { path: at, url } of urls(manifest)) {
    let host: string;
    try {
      host = new URL(url).hostname.toLowerCase();
    } catch {
      problems.push({
        path: at,
        message: `"${url}" is not a URL`,
        fix: 'Use an absolute https URL.',
      });
      continue;
    }
    if (!covered(host, domains))
      problems.push({
        path: at,
        message: `its domain ${host} is not in validDomains`,
        fix: `Add "${host}" to validDomains, or serve the URL from a listed domain.`,
      });
  }

  const icon = (at: string, file: unknown, size: number, outline: boolean) => {
    if (typeof file !== 'string') return;
    const full = path.join(sourceDir, file);
    if (!fs.existsSync(full)) {
      problems.push({
        path: at,
        message: `${file} does not exist next to the manifest`,
        fix: `Add ${file} (${size}×${size} PNG) to appPackage/.`,
      });
      return;
    }
    let png: PNG;
    try {
      png = PNG.sync.read(fs.readFileSync(full));
    } catch {
      problems.push({
        path: at,
        message: `${file} is not a PNG`,
        fix: `Save it as a ${size}×${size} PNG.`,
      });
      return;
    }
    if (png.width !== size || png.height !== size)
      problems.push({
        path: at,
        message: `${file} is ${png.width}×${png.height}, not ${size}×${size}`,
        fix: `Export it at ${size}×${size} pixels (npm run icons redraws ours).`,
      });
    if (!outline) return;
    let transparent = 0;
    let colored = 0;
    for (let i = 0; i < png.data.length; i += 4) {
      const [r, g, b, a] = [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!, png.data[i + 3]!];
      if (a === 0) transparent++;
      else if (r < 230 || g < 230 || b < 230) colored++;
    }
    if (transparent === 0)
      problems.push({
        path: at,
        message: `${file} has no transparent background`,
        fix: 'Teams needs a white outline on a transparent background.',
      });
    if (colored > 0)
      problems.push({
        path: at,
        message: `${file} has ${colored} pixels that are not white`,
        fix: 'Draw the outline in white (#FFFFFF) only.',
      });
  };
  icon('$.icons.color', manifest.icons?.color, 192, false);
  icon('$.icons.outline', manifest.icons?.outline, 32, true);

  const expected = BOT_COMMANDS.map((c) => c.name).sort();
  ((manifest.bots ?? []) as { commandLists?: { commands: { title: string }[] }[] }[]).forEach(
    (bot, i) => {
      (bot.commandLists ?? []).forEach((list, j) => {
        const titles = list.commands.map((c) => c.title).sort();
        const missing = expected.filter((t) => !titles.includes(t));
        const unknown = titles.filter((t) => !(expected as string[]).includes(t));
        if (missing.length || unknown.length)
          problems.push({
            path: `$.bots[${i}].commandLists[${j}].commands`,
            message: `does not match the bot's commands${missing.length ? `; missing ${missing.join(', ')}` : ''}${unknown.length ? `; the bot has no ${unknown.join(', ')}` : ''}`,
            fix: `List exactly the bot's commands (bot/commands.ts): ${expected.join(', ')}.`,
          });
      });
    },
  );
  return problems;
}

/**
 * Builds the app package admins upload: fills the manifest from the env files, validates it
 * against the bundled official schema and our own checks, and writes
 * `build/manifest.<env>.json` and `build/appPackage.<env>.zip` (manifest and two icons).
 */
export function buildAppPackage(options: PackageOptions): { zip: string; manifest: string } {
  const sourceDir = options.sourceDir ?? path.join(options.root, 'appPackage');
  const outDir = options.outDir ?? path.join(options.root, 'appPackage', 'build');
  const vars = readEnvFiles(options.root, options.env);
  let template: unknown;
  try {
    template = JSON.parse(fs.readFileSync(path.join(sourceDir, 'manifest.json'), 'utf8'));
  } catch (err) {
    throw new PackageError([
      {
        path: 'appPackage/manifest.json',
        message: `is not valid JSON (${(err as Error).message})`,
        fix: 'Correct the JSON syntax.',
      },
    ]);
  }
  const missing: Problem[] = [];
  const manifest = fill(template, vars, '$', missing, options.env) as ManifestJson;
  if (missing.length) throw new PackageError(missing);
  const problems = [...schemaProblems(manifest), ...semanticProblems(manifest, sourceDir)];
  if (problems.length) throw new PackageError(problems);

  fs.mkdirSync(outDir, { recursive: true });
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  const manifestFile = path.join(outDir, `manifest.${options.env}.json`);
  fs.writeFileSync(manifestFile, text);
  const zip = zipSync(
    {
      'manifest.json': Buffer.from(text),
      [manifest.icons.color]: fs.readFileSync(path.join(sourceDir, manifest.icons.color)),
      [manifest.icons.outline]: fs.readFileSync(path.join(sourceDir, manifest.icons.outline)),
    },
    { level: 9, mtime: new Date('2026-01-01T00:00:00Z') },
  );
  const zipFile = path.join(outDir, `appPackage.${options.env}.zip`);
  fs.writeFileSync(zipFile, zip);
  return { zip: zipFile, manifest: manifestFile };
}
