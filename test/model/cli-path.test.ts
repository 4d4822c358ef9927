// Model-based test of the import through the CLI's pipeline (`runLocalImport`, what `dvpipe import` runs)
// against the emulator over HTTP: generated sequences of imports, dry runs, plain re-runs, --rerun,
// errors.csv dropped back in, two imports at once and imports under faults. After every step Dataverse
// must hold what the reference model says, field by field, and every line of records.csv and errors.csv
// must be what some serial order of the writes explains.
//
// CI runs a fixed seed; MODEL_RUNS and MODEL_SEED set a longer soak (RELIABILITY.md).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseImportJob } from '../../src/config/job.js';
import { runLocalImport } from '../../src/imports/local-run.js';
import { silentLogger } from '../../src/logging.js';
import { reportFirst, sequence, type Tally } from './arbitraries.js';
import { cliHarness, csvOf, startCliTarget } from './cli-harness.js';
import { applyRun, jobFile, type JobSpec } from './model.js';
import { actualState, checkRunFiles, compareStates, readRunFiles } from './oracle.js';

const RUNS = Number(process.env.MODEL_RUNS ?? 25);
const SEED = Number(process.env.MODEL_SEED ?? 20261202);

describe('imports through the CLI pipeline match the reference model', () => {
  let target: Awaited<ReturnType<typeof startCliTarget>>;
  const tally: Tally = { sequences: 0, steps: 0, rows: 0, fields: 0 };

  beforeAll(async () => {
    target = await startCliTarget('model');
  });
  afterAll(async () => {
    await target?.close();
    if (process.env.MODEL_RUNS) process.stdout.write(`model soak (CLI path): ${JSON.stringify(tally)}\n`);
  });

  it(
    `holds for ${RUNS} generated sequences (seed ${SEED})`,
    async () => {
      await fc.assert(
        fc.asyncProperty(sequence, async (steps) => {
          const problems = await harness().runSequence(steps);
          reportFirst(steps, problems);
          expect(problems, problems.join('\n')).toEqual([]);
        }),
        { seed: SEED, numRuns: RUNS },
      );
      // A soak runs far longer than the suite's default timeout; shrinking a failure takes longer still.
    },
    Math.max(120_000, RUNS * 3000),
  );

  const harness = () => cliHarness({ ...target, tally });

  it('reads its own files the way the oracle expects (a sanity check of the harness)', async () => {
    const { emulator, client, meter, accounts } = target;
    const dir = await mkdtemp(join(tmpdir(), 'dvp-model-sanity-'));
    try {
      const spec: JobSpec = { operation: 'upsert', duplicateKeys: 'lastWins', emptyCells: 'skip' };
      const rows = [['k1@example.com', 'Smith', '', 'ACC-1', 'Email', '1990-01-02']];
      const file = join(dir, 'one.csv');
      await writeFile(file, csvOf(rows));
      emulator.store.clear('contact');
      await runLocalImport({
        file,
        job: parseImportJob(jobFile(spec), 'sanity'),
        client,
        environment: emulator.url,
        meter,
        outDir: join(dir, 'out'),
        log: silentLogger,
      });
      const files = await readRunFiles(join(dir, 'out'));
      const model = applyRun(spec, rows, new Map(), accounts);
      const actual = actualState(emulator);
      expect(checkRunFiles('sanity', rows, model.rows, files, { before: new Map(), after: actual })).toEqual(
        [],
      );
      expect(compareStates('sanity', model.state, actual)).toEqual([]);
      // And a wrong model is caught: the oracle is not blind.
      const wrong = applyRun({ ...spec, operation: 'update' }, rows, new Map(), accounts);
      expect(
        checkRunFiles('wrong', rows, wrong.rows, files, { before: new Map(), after: actual }),
      ).not.toEqual([]);
      expect(compareStates('wrong', wrong.state, actual)).not.toEqual([]);
      expect(JSON.parse(await readFile(join(dir, 'out', 'summary.json'), 'utf8'))).toMatchObject({
        rows: { created: 1 },
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
