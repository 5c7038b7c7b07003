import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Builds the channel tab into static files the app serves (`TAB_STATIC_DIR`, default
 * dist/tab): esbuild bundles teams-js and our code into one minified module per page, and the
 * HTML and CSS are copied. Run by `npm run build` (and by `npm start` and `npm test` before
 * they need it), never at request time.
 */
export async function buildTab(outDir = path.join(root, 'dist', 'tab')): Promise<string> {
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: {
      app: path.join(root, 'tab/src/content.ts'),
      config: path.join(root, 'tab/src/config.ts'),
    },
    outdir: outDir,
    bundle: true,
    format: 'esm',
    target: ['chrome110', 'edge110', 'safari16', 'firefox110'],
    minify: true,
    sourcemap: true,
    legalComments: 'linked',
    logLevel: 'warning',
  });
  for (const file of fs.readdirSync(path.join(root, 'tab/public')))
    fs.copyFileSync(path.join(root, 'tab/public', file), path.join(outDir, file));
  return outDir;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await buildTab();
  process.stdout.write(`tab built into ${path.relative(process.cwd(), out)}\n`);
}
