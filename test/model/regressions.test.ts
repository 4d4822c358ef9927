// Counterexamples the model-based tests found, shrunk by fast-check, kept as fixed sequences.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Step, Tally } from './arbitraries.js';
import { cliHarness, startCliTarget } from './cli-harness.js';
import type { JobSpec } from './model.js';

const upsert: JobSpec = { operation: 'upsert', duplicateKeys: 'lastWins', emptyCells: 'skip' };
const create: JobSpec = { operation: 'create', duplicateKeys: 'lastWins', emptyCells: 'skip' };

const found: Record<string, readonly Step[]> = {
  // Issue 16, defect 1: two upserts racing on a new key both resolved it as new and created it under the
  // same derived id; the loser's create met the id taken and was reported created, its values dropped.
  'two upserts racing on a new key': [
    {
      kind: 'import',
      spec: upsert,
      rows: [['k0@example.com', 'Smith', 'Ann', 'ACC-0', 'Email', '1990-01-02']],
      mode: 'plain',
    },
    {
      kind: 'concurrent',
      a: { spec: upsert, rows: [['k5@example.com', 'Smith', 'Ann', '', 'Email', '']] },
      b: {
        spec: upsert,
        rows: [
          ['k5@example.com', 'Jones', 'Bo', '', 'Phone', ''],
          ['k0@example.com', 'Smith', 'Ann', 'ACC-0', '', ''],
        ],
      },
    },
  ],
  // The same create run (content, job, environment) executed again from another --out folder finds the
  // records it created and reports them created; a record another run created fails as RecordExists.
  'a create run executed again after racing an upsert': [
    {
      kind: 'concurrent',
      a: {
        spec: upsert,
        rows: [
          ['k2@example.com', 'Smith', '', 'ACC-0', 'Email', '1990-01-02'],
          ['k0@example.com', 'Smith', 'Ann', 'ACC-0', 'Pigeon', '1990-01-02'],
        ],
      },
      b: {
        spec: create,
        rows: [
          ['k2@example.com', 'Smith', 'Ann', '', 'Email', ''],
          ['k0@example.com', '', '', 'ACC-0', 'Email', '1990-01-02'],
        ],
      },
    },
    { kind: 'again' },
  ],
};

describe('model-based regressions (CLI path)', () => {
  let target: Awaited<ReturnType<typeof startCliTarget>>;
  const tally: Tally = { sequences: 0, steps: 0, rows: 0, fields: 0 };

  beforeAll(async () => {
    target = await startCliTarget('regressions');
  });
  afterAll(async () => {
    await target?.close();
  });

  it.each(Object.entries(found))('%s', async (_name, steps) => {
    const harness = cliHarness({ ...target, tally });
    // Races depend on timing: each sequence runs a few times.
    for (let attempt = 0; attempt < 4; attempt += 1) {
      const problems = await harness.runSequence(steps);
      expect(problems, problems.join('\n')).toEqual([]);
    }
  });
});
