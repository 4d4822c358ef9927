// Writes jobs/job.schema.json from the zod job schema (formatted like the rest of the repository).
// `--check` fails when the committed file is stale.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import prettier from 'prettier';
import { renderJobSchema } from '../src/config/job-schema.js';

const target = fileURLToPath(new URL('../jobs/job.schema.json', import.meta.url));
const options = (await prettier.resolveConfig(target)) ?? {};
const rendered = await prettier.format(renderJobSchema(), { ...options, parser: 'json' });

if (process.argv.includes('--check')) {
  const current = await readFile(target, 'utf8').catch(() => '');
  if (current !== rendered) {
    console.error('jobs/job.schema.json is stale: run npx tsx scripts/generate-job-schema.ts');
    process.exit(1);
  }
  console.log('jobs/job.schema.json is up to date');
} else {
  await writeFile(target, rendered);
  console.log(`wrote ${target}`);
}
