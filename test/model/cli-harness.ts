// The CLI-path harness of the model-based tests: runs a sequence of steps through `runLocalImport` (what
// `dvpipe import` runs) against the emulator, and checks each against the reference model.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { startEmulator, type RunningEmulator } from '../../emulator/index.js';
import { createClient } from '../../src/app/dataverse.js';
import { parseImportJob } from '../../src/config/job.js';
import type { DataverseClient } from '../../src/dataverse/index.js';
import { runLocalImport, type LocalImportResult } from '../../src/imports/local-run.js';
import { RequestMeter } from '../../src/imports/request-meter.js';
import { silentLogger } from '../../src/logging.js';
import { ACCOUNTS, type Step, type Tally } from './arbitraries.js';
import { adopt, applyRun, fixRow, HEADER, jobFile, type Cells, type JobSpec, type State } from './model.js';
import {
  actualState,
  checkConcurrent,
  checkRunFiles,
  compareStates,
  readRunFiles,
  type RunFiles,
} from './oracle.js';

/** Faults of the `faults` step: throttling, unavailability and connections dropped after the work is done. */
export const FAULTS = '429=0.1,503=0.05,drop=0.03';

export interface CliHarnessDeps {
  readonly emulator: RunningEmulator;
  readonly client: DataverseClient;
  readonly meter: RequestMeter;
  /** Account number (lower case) -> accountid, as the emulator holds them. */
  readonly accounts: ReadonlyMap<string, string>;
  readonly tally: Tally;
}

/**
 * The emulator and a client the CLI path writes through, with the model's accounts in place. Time-scaled
 * so injected 429s ask for short waits; limits stay on.
 */
export async function startCliTarget(
  identity: string,
): Promise<Omit<CliHarnessDeps, 'tally'> & { close(): Promise<void> }> {
  const emulator = await startEmulator({ profile: 'fast', timeScale: 0.01 });
  const meter = new RequestMeter();
  const client = createClient({ url: emulator.url, identities: [identity], onEvent: meter.onEvent });
  const accounts = new Map<string, string>();
  for (const number of ACCOUNTS) {
    accounts.set(
      number.toLowerCase(),
      emulator.store.put('account', { name: number, accountnumber: number }),
    );
  }
  return {
    emulator,
    client,
    meter,
    accounts,
    async close() {
      await client.close();
      await emulator.close();
    },
  };
}

/** A file of rows under the model's header, as users write it. */
export const csvOf = (rows: readonly Cells[]) => stringify([[...HEADER], ...rows]);

export function cliHarness(deps: CliHarnessDeps): { runSequence(steps: readonly Step[]): Promise<string[]> } {
  const { emulator, client, meter, accounts, tally } = deps;

  interface World {
    readonly dir: string;
    state: State;
    files: number;
    /** Content + job of runs that finished for real, per out folder: a plain re-run of these writes nothing. */
    readonly finished: Set<string>;
    last?: { readonly spec: JobSpec; readonly rows: readonly Cells[] };
    lastErrors?: { readonly spec: JobSpec; readonly errors: readonly Record<string, string>[] };
  }

  async function runSequence(steps: readonly Step[]): Promise<string[]> {
    emulator.store.clear('contact');
    emulator.configure({ faults: '' });
    const world: World = {
      dir: await mkdtemp(join(tmpdir(), 'dvp-model-')),
      state: new Map(),
      files: 0,
      finished: new Set(),
    };
    tally.sequences += 1;
    try {
      const problems: string[] = [];
      for (const [i, step] of steps.entries()) {
        tally.steps += 1;
        problems.push(...(await runStep(world, step, `step ${i + 1} (${step.kind})`)));
        if (problems.length > 0) return problems;
      }
      return problems;
    } finally {
      emulator.configure({ faults: '' });
      await rm(world.dir, { recursive: true, force: true });
    }
  }

  async function importFile(
    world: World,
    spec: JobSpec,
    csv: string,
    out: string,
    options: { dryRun?: boolean; rerun?: boolean } = {},
  ): Promise<{ result: LocalImportResult; files?: RunFiles }> {
    world.files += 1;
    const file = join(world.dir, `file-${world.files}.csv`);
    await writeFile(file, csv);
    const job = parseImportJob(jobFile(spec), 'model job');
    const result = await runLocalImport({
      file,
      job,
      client,
      environment: emulator.url,
      meter,
      outDir: join(world.dir, out),
      log: silentLogger,
      // Small chunks, several at once: rows of one file are written in parallel, and read ahead.
      defaultChunkSize: 4,
      chunkConcurrency: 3,
      ...options,
    });
    return result.kind === 'finished'
      ? { result, files: await readRunFiles(join(world.dir, out)) }
      : { result };
  }

  /** DESIGN.md's run identity: the content and the job (the environment is the same all along). */
  const runIdentity = (spec: JobSpec, csv: string) => `${JSON.stringify(spec)}\u0000${csv}`;
  /** What a plain re-run is recognised by: the run's identity, in the out folder that remembers it. */
  const identity = (spec: JobSpec, csv: string, out: string) => `${out}\u0000${runIdentity(spec, csv)}`;

  async function runStep(world: World, step: Step, label: string): Promise<string[]> {
    const before = world.state;
    switch (step.kind) {
      case 'import':
      case 'faults':
        return runOne(world, step.spec, step.rows, csvOf(step.rows), label, {
          dryRun: step.kind === 'import' && step.mode === 'dry',
          rerun: step.kind === 'import' && step.mode === 'rerun',
          faults: step.kind === 'faults',
        });
      case 'again': {
        if (!world.last) return [];
        return runOne(world, world.last.spec, world.last.rows, csvOf(world.last.rows), label, {});
      }
      case 'fixErrors': {
        const last = world.lastErrors;
        if (!last || last.errors.length === 0) return [];
        // errors.csv as it is, each bad cell fixed: the input's columns, then row, code, message, column.
        const fixed = last.errors.map((error) => fixRow(HEADER.map((name) => error[name] ?? '')));
        const extra = ['row', 'code', 'message', 'column'];
        const csv = stringify([
          [...HEADER, ...extra],
          ...last.errors.map((error, i) => [...(fixed[i] ?? []), ...extra.map((name) => error[name] ?? '')]),
        ]);
        return runOne(world, last.spec, fixed, csv, label, {});
      }
      case 'concurrent': {
        const outs = [`race-a-${world.files}`, `race-b-${world.files}`] as const;
        const [a, b] = await Promise.all([
          importFile(world, step.a.spec, csvOf(step.a.rows), outs[0]),
          importFile(world, step.b.spec, csvOf(step.b.rows), outs[1]),
        ]);
        if (!a.files || !b.files)
          return [`${label}: a run did not finish (${a.result.kind}, ${b.result.kind})`];
        const actual = actualState(emulator);
        const runs = [
          { ...step.a, files: a.files, identity: runIdentity(step.a.spec, csvOf(step.a.rows)) },
          { ...step.b, files: b.files, identity: runIdentity(step.b.spec, csvOf(step.b.rows)) },
        ] as const;
        const { problems, state } = checkConcurrent(label, before, runs, accounts, actual);
        count(actual);
        world.state = state;
        world.last = step.b;
        world.lastErrors = { spec: step.b.spec, errors: b.files.errors };
        return problems;
      }
    }
  }

  async function runOne(
    world: World,
    spec: JobSpec,
    rows: readonly Cells[],
    csv: string,
    label: string,
    options: { dryRun?: boolean; rerun?: boolean; faults?: boolean },
  ): Promise<string[]> {
    const before = world.state;
    const out = options.faults ? `faults-${world.files}` : 'out';
    const key = identity(spec, csv, out);
    const writesBefore = emulator.stats().recordsWritten;
    if (options.faults) emulator.configure({ faults: FAULTS });
    let ran;
    try {
      ran = await importFile(world, spec, csv, out, options);
    } finally {
      emulator.configure({ faults: '' });
    }
    const actual = actualState(emulator);
    count(actual);
    if (!options.dryRun && !options.rerun && world.finished.has(key)) {
      // A plain re-run of a finished run: recognised, nothing written, the state as it was.
      const problems = compareStates(label, before, actual);
      if (ran.result.kind !== 'alreadyImported')
        problems.push(`${label}: expected alreadyImported, got ${ran.result.kind}`);
      if (emulator.stats().recordsWritten !== writesBefore)
        problems.push(`${label}: a recognised re-run wrote records`);
      return problems;
    }
    if (!ran.files) return [`${label}: the run ended ${ran.result.kind}`];
    const run = options.rerun || options.dryRun ? `${label} of ${world.files}` : runIdentity(spec, csv);
    const model = applyRun(spec, rows, before, accounts, run);
    const problems = checkRunFiles(
      label,
      rows,
      model.rows,
      ran.files,
      { before, after: actual },
      { faults: options.faults ?? false },
    );
    if (ran.files.summary.dryRun !== (options.dryRun ?? false))
      problems.push(`${label}: summary.dryRun is wrong`);
    if (options.dryRun) {
      problems.push(...compareStates(`${label} (dry run: nothing written)`, before, actual));
      return problems;
    }
    problems.push(...compareStates(label, model.state, actual));
    world.state = adopt(actual, model.state);
    world.finished.add(key);
    world.last = { spec, rows };
    world.lastErrors = { spec, errors: ran.files.errors };
    return problems;
  }

  function count(state: State): void {
    tally.rows += state.size;
    tally.fields += state.size * 6;
  }

  return { runSequence };
}
