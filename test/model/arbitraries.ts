// Generated inputs for the model-based tests: files over a small shared key space (so runs meet on keys),
// with the kinds of bad cells users send, and jobs under every operation and policy.
import fc from 'fast-check';
import type { Cells, JobSpec } from './model.js';

/** Accounts the emulator holds; ACC-9 is a company that does not exist. */
export const ACCOUNTS = ['ACC-0', 'ACC-1', 'ACC-2', 'ACC-3'] as const;

const emailOf = (n: number, variant: number) =>
  [`k${n}@example.com`, `K${n}@Example.com`, ` k${n}@example.com `][variant] ?? `k${n}@example.com`;

const email = fc.oneof(
  { weight: 20, arbitrary: fc.tuple(fc.nat(7), fc.nat(2)).map(([n, v]) => emailOf(n, v)) },
  { weight: 1, arbitrary: fc.constantFrom('', '  ') },
);
const name = (good: readonly string[]) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...good) },
    { weight: 2, arbitrary: fc.constant('') },
    { weight: 1, arbitrary: fc.integer({ min: 51, max: 60 }).map((n) => 'x'.repeat(n)) },
  );
const company = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...ACCOUNTS, 'acc-2') },
  { weight: 2, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: fc.constant('ACC-9') },
);
const method = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('Email', 'phone', 'Fax', 'MAIL', 'Any') },
  { weight: 2, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: fc.constant('Pigeon') },
);
const birthday = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('1990-01-02', '2000-02-29', '1985-12-31') },
  { weight: 2, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: fc.constantFrom('2001-02-30', '12/31/1999') },
);

export const row: fc.Arbitrary<Cells> = fc.tuple(
  email,
  name(['Smith', 'Jones', 'Ng', "O'Brien"]),
  name(['Ann', 'Bo', 'Chen']),
  company,
  method,
  birthday,
);

export const file = fc.array(row, { minLength: 1, maxLength: 14 });

export const spec: fc.Arbitrary<JobSpec> = fc.record({
  operation: fc.constantFrom('upsert', 'upsert', 'upsert', 'create', 'update', 'delete'),
  duplicateKeys: fc.constantFrom('lastWins', 'failAll'),
  emptyCells: fc.constantFrom('skip', 'clear'),
});

/** Jobs that write rather than delete, for runs racing each other. */
const writingSpec = spec.filter((s) => s.operation !== 'delete');

export type Step =
  | {
      readonly kind: 'import';
      readonly spec: JobSpec;
      readonly rows: readonly Cells[];
      readonly mode: 'plain' | 'dry' | 'rerun';
    }
  /** The last file again, with the same job and no flag: a finished run is recognised, nothing is written. */
  | { readonly kind: 'again' }
  /** The last run's errors.csv, its bad cells fixed, dropped back in. */
  | { readonly kind: 'fixErrors' }
  | {
      readonly kind: 'concurrent';
      readonly a: { readonly spec: JobSpec; readonly rows: readonly Cells[] };
      readonly b: { readonly spec: JobSpec; readonly rows: readonly Cells[] };
    }
  /** An import while the emulator throttles, fails and drops connections. */
  | { readonly kind: 'faults'; readonly spec: JobSpec; readonly rows: readonly Cells[] };

export const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('import' as const),
      spec,
      rows: file,
      mode: fc.constantFrom('plain', 'plain', 'dry', 'rerun'),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'again' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'fixErrors' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('concurrent' as const),
      a: fc.record({ spec: writingSpec, rows: file }),
      b: fc.record({ spec: writingSpec, rows: file }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('faults' as const), spec, rows: file }),
  },
);

export const sequence = fc.array(step, { minLength: 2, maxLength: 6 });

/** Sequences and steps run, and rows compared field by field, for the soak report. */
export interface Tally {
  sequences: number;
  steps: number;
  rows: number;
  fields: number;
}

let reported = false;

/**
 * The first failing sequence, written out before fast-check starts shrinking it: a long soak can run out
 * of time while shrinking, and the failure must not be lost with it.
 */
export function reportFirst(steps: unknown, problems: readonly string[]): void {
  if (reported || problems.length === 0) return;
  reported = true;
  process.stderr.write(`model: first failure\n${problems.join('\n')}\nsequence: ${JSON.stringify(steps)}\n`);
}
