import { describe, expect, it } from 'vitest';
import type { CsvCell } from '../../../src/csv/writer.js';
import type { OutputField } from '../../../src/extracts/columns.js';
import { isExtractError } from '../../../src/extracts/errors.js';
import {
  converterOf,
  openParquetOutput,
  parquetSchemaOf,
  unscaledDecimal,
} from '../../../src/extracts/parquet.js';
import type { StagedSink } from '../../../src/storage/staged-sink.js';

const field = (name: string, type: OutputField['type']): OutputField => ({ name, type });

describe('unscaledDecimal', () => {
  it.each([
    [12.5, 4, 125000n],
    [-0.0001, 4, -1n],
    ['1234.56789', 4, 12345679n],
    [1e-7, 4, 0n],
    [922337203685477, 4, 9223372036854770000n],
    [100000000000, 10, 1000000000000000000000n],
    [0, 2, 0n],
    ['-12', 2, -1200n],
  ] as const)('%s at scale %s is %s', (cell, scale, expected) => {
    expect(unscaledDecimal(cell, scale)).toBe(expected);
  });

  it.each(['abc', '', '1e5', '.', true])('refuses %j', (cell) => {
    expect(unscaledDecimal(cell, 2)).toBeUndefined();
  });
});

describe('converterOf', () => {
  it("turns the plan's cells into the column's values", () => {
    expect(converterOf(field('d', { kind: 'date' }))('1970-01-02')).toBe(1);
    expect(converterOf(field('d', { kind: 'date' }))('2024-02-29')).toBe(19782);
    expect(converterOf(field('t', { kind: 'timestamp' }))('2026-01-02T03:04:05Z')).toBe(
      BigInt(Date.UTC(2026, 0, 2, 3, 4, 5)),
    );
    expect(converterOf(field('n', { kind: 'int64' }))(12345678901)).toBe(12345678901n);
    expect(converterOf(field('s', { kind: 'string' }))(42)).toBe('42');
    expect(converterOf(field('b', { kind: 'boolean' }))(null)).toBeNull();
  });

  it.each([
    [{ kind: 'int32' } as const, 1.5, 'Column "x": expected a whole number, got 1.5 from Dataverse'],
    [{ kind: 'double' } as const, 'n/a', 'Column "x": expected a number, got "n/a" from Dataverse'],
    [{ kind: 'date' } as const, '02/01/2026', 'Column "x": expected a date (yyyy-MM-dd), got "02/01/2026"'],
    [{ kind: 'boolean' } as const, 'yes', 'Column "x": expected true or false, got "yes"'],
  ])('refuses a value of another type, naming the column (%j)', (type, cell, message) => {
    let thrown: unknown;
    try {
      converterOf(field('x', type))(cell as CsvCell);
    } catch (error) {
      thrown = error;
    }
    expect(isExtractError(thrown) && thrown.code).toBe('OutputFailed');
    expect((thrown as Error).message).toContain(message);
  });
});

describe('parquetSchemaOf', () => {
  it('declares optional typed columns; decimals stored as the Parquet spec says for their precision', () => {
    const schema = parquetSchemaOf([
      field('money', { kind: 'decimal', precision: 19, scale: 4 }),
      field('small', { kind: 'decimal', precision: 9, scale: 2 }),
      field('wide', { kind: 'decimal', precision: 22, scale: 10 }),
      field('when', { kind: 'timestamp' }),
    ]);
    expect(schema[0]).toEqual({ name: 'root', num_children: 4 });
    expect(schema.slice(1).map((e) => [e.name, e.type, e.type_length, e.repetition_type])).toEqual([
      ['money', 'FIXED_LEN_BYTE_ARRAY', 9, 'OPTIONAL'],
      ['small', 'INT32', undefined, 'OPTIONAL'],
      ['wide', 'FIXED_LEN_BYTE_ARRAY', 10, 'OPTIONAL'],
      ['when', 'INT64', undefined, 'OPTIONAL'],
    ]);
    expect(schema[4]?.logical_type).toEqual({ type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' });
  });
});

describe('openParquetOutput', () => {
  it('stages each row group as soon as it is full, so concurrent parts never hold more than one group', async () => {
    const staged: { id: string; bytes: number; consumed: number }[] = [];
    let consumed = 0;
    let committed: readonly string[] = [];
    const sink: StagedSink = {
      location: 'memory/',
      open: (path) => ({
        path,
        stageBlock: async (id, data) => {
          staged.push({ id, bytes: data.length, consumed });
          await new Promise((r) => setTimeout(r, 2));
        },
        commit: async (ids) => {
          committed = ids;
        },
        abort: async () => {},
      }),
      put: async () => {},
      read: async () => (async function* () {})(),
    };
    const output = openParquetOutput(
      sink,
      'x.parquet',
      [field('id', { kind: 'int32' }), field('name', { kind: 'string' })],
      { rowGroupRows: 1000 },
    );
    const part = async function* (from: number, count: number) {
      for (let i = from; i < from + count; i += 1) {
        consumed += 1;
        yield [i, `row ${i}`] as CsvCell[];
      }
    };
    const counts = await Promise.all([
      output.write(1, part(0, 900)),
      output.write(2, part(900, 900)),
      output.write(3, part(1800, 700)),
    ]);
    expect(counts).toEqual([900, 900, 700]);
    // Two full groups were staged while rows were still being read; each time, at most one record per
    // part was read beyond the groups already staged.
    expect(staged).toHaveLength(2);
    staged.forEach((block, k) => expect(block.consumed).toBeLessThanOrEqual((k + 1) * 1000 + 3));
    await output.commit();
    expect(output.rowGroups).toBe(3);
    expect(committed).toEqual(staged.map((b) => b.id));
    expect(staged.length).toBe(4); // the last group, then the footer
  });
});
