import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildAppPackage, PackageError } from './index.js';

/** `npm run package -- --env <name>`: the app package for env/.env.<name>. */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values } = parseArgs({ options: { env: { type: 'string', default: 'local' } } });
try {
  const out = buildAppPackage({ root, env: values.env! });
  process.stdout.write(
    `app package: ${path.relative(process.cwd(), out.zip)}\nmanifest:    ${path.relative(process.cwd(), out.manifest)}\n`,
  );
} catch (err) {
  if (!(err instanceof PackageError)) throw err;
  process.stderr.write(`The app package for "${values.env}" was not built:\n`);
  for (const p of err.problems)
    process.stderr.write(`  ${p.path}: ${p.message}.\n    Fix: ${p.fix}\n`);
  process.exit(1);
}
