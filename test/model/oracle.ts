// Compares what a run did (its result files, the emulator's rows) with the reference model.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import type { RunningEmulator } from '../../emulator/index.js';
import type { RunSummary } from '../../src/imports/types.js';
import {
  adopt,
  applyRun,
  HEADER,
  normalise,
  type Cells,
  type Expected,
  type JobSpec,
  type State,
  type Status,
  type StoredContact,
} from './model.js';

export interface RunFiles {
  readonly summary: RunSummary;
  readonly records: readonly Record<string, string>[];
  readonly errors: readonly Record<string, string>[];
}

export async function readRunFiles(outDir: string): Promise<RunFiles> {
  const csv = async (name: string) =>
    parse(await readFile(join(outDir, name)), { columns: true, bom: true }) as Record<string, string>[];
  return {
    summary: JSON.parse(await readFile(join(outDir, 'summary.json'), 'utf8')) as RunSummary,
    records: await csv('records.csv'),
    errors: await csv('errors.csv'),
  };
}

export interface RunFilesFromStore {
  readonly summary: RunSummary;
  readonly records: string;
  readonly errors: string;
}

export function parseRunFiles(files: RunFilesFromStore): RunFiles {
  const csv = (text: string) => parse(text, { columns: true, bom: true }) as Record<string, string>[];
  return { summary: files.summary, records: csv(files.records), errors: csv(files.errors) };
}

const FIELDS = [
  'emailaddress1',
  'lastname',
  'firstname',
  '_parentcustomerid_value',
  'preferredcontactmethodcode',
  'birthdate',
] as const;

/** The emulator's contacts in the model's shape: by normalised key, the mapped fields and the id. */
export function actualState(emulator: RunningEmulator): Map<string, StoredContact> {
  const state = new Map<string, StoredContact>();
  for (const row of emulator.store.all('contact')) {
    const key = normalise(String(row.emailaddress1 ?? ''));
    if (state.has(key)) throw new Error(`Two contacts hold the key ${key}`);
    const contact: Record<string, unknown> = { contactid: String(row.contactid) };
    for (const field of FIELDS) contact[field] = row[field] ?? null;
    state.set(key, contact as unknown as StoredContact);
  }
  return state;
}

const sameFields = (a: StoredContact | undefined, b: StoredContact | undefined) =>
  a === undefined || b === undefined ? a === b : FIELDS.every((field) => a[field] === b[field]);

export interface Relaxations {
  /**
   * Faults were injected: a create whose answer was lost and that was sent again finds its own record and
   * updates it, so a row the model sees create may say updated; a delete, likewise, unchanged (never the
   * other way round).
   */
  readonly faults?: boolean;
  /** The same, for these rows only: a worker wrote them and died before storing its result. */
  readonly rewritten?: ReadonlySet<number>;
}

function statusAllowed(expected: Status, actual: string, relax: Relaxations, row: number): boolean {
  if (actual === expected) return true;
  // The second write of a row whose first one landed unseen sees that write's effect.
  const seen =
    (expected === 'created' && actual === 'updated') || (expected === 'deleted' && actual === 'unchanged');
  return rewritable(relax, row) && seen;
}

const rewritable = (relax: Relaxations, row: number) =>
  relax.faults === true || relax.rewritten?.has(row) === true;

interface Ids {
  /** Ids of records before the run: rows that update or delete must name them. */
  readonly before: State;
  /** Ids after it: rows that created or updated must name these. */
  readonly after: State;
}

/** One row's line in records.csv (and errors.csv) against what the model says of it. */
function checkRow(
  say: (text: string) => void,
  want: Expected,
  cells: Cells,
  record: Record<string, string> | undefined,
  error: Record<string, string> | undefined,
  ids: Ids,
  relax: Relaxations,
): void {
  if (!record) return say(`row ${want.row} has no line in records.csv`);
  const status = record.status ?? '';
  if (!statusAllowed(want.status, status, relax, want.row)) {
    say(`row ${want.row} (${want.key ?? 'no key'}) is ${status}, the model says ${want.status}`);
  }
  // The input's cells come back as they were sent.
  HEADER.forEach((name, c) => {
    if (name in record && record[name] !== (cells[c] ?? ''))
      say(`row ${want.row}: records.csv ${name} changed`);
  });
  const key = want.key;
  if (status === 'updated' && key && !rewritable(relax, want.row)) {
    const id = ids.before.get(key)?.contactid;
    if (id && record.id !== id) say(`row ${want.row} updated ${record.id}, but ${key} was ${id}`);
  }
  if ((status === 'created' || status === 'updated') && key) {
    const now = ids.after.get(key)?.contactid;
    if (now && !now.startsWith('pending:') && record.id !== now)
      say(`row ${want.row} wrote ${record.id}, but ${key} is ${now}`);
  }
  if ((status === 'superseded' || status === 'failed') && record.id)
    say(`row ${want.row} has an id (${record.id})`);
  if (status !== 'failed') {
    if (error) say(`row ${want.row} is ${status} but in errors.csv`);
    return;
  }
  if (!error) return say(`row ${want.row} failed but is not in errors.csv`);
  if (want.status === 'failed' && !want.codes?.has(error.code ?? '')) {
    say(
      `row ${want.row} failed with ${error.code} (${error.message}), the model says ${[...(want.codes ?? [])].join(' or ')}`,
    );
  }
  if (!error.message) say(`row ${want.row} failed without a reason`);
  HEADER.forEach((name, c) => {
    if (error[name] !== (cells[c] ?? '')) say(`row ${want.row}: errors.csv ${name} is not the cell sent`);
  });
}

/** What holds whatever the order of writes: one line per row in order, errors.csv = the failed rows, tallies. */
function checkShape(say: (text: string) => void, rows: readonly Cells[], files: RunFiles): void {
  const { records, errors, summary } = files;
  if (records.map((r) => Number(r.row)).join() !== rows.map((_, i) => i + 2).join()) {
    say(`records.csv rows are ${records.map((r) => r.row).join(', ')} for ${rows.length} input rows`);
  }
  const failed = records.filter((r) => r.status === 'failed').map((r) => Number(r.row));
  if (errors.map((e) => Number(e.row)).join() !== failed.join()) {
    say(
      `errors.csv holds rows ${errors.map((e) => e.row).join(', ')}, records.csv fails ${failed.join(', ')}`,
    );
  }
  const tally = (status: string) => records.filter((r) => r.status === status).length;
  const counts = summary.rows;
  if (counts.total !== rows.length) say(`summary counts ${counts.total} rows for ${rows.length}`);
  if (counts.failed !== tally('failed'))
    say(`summary says ${counts.failed} failed, records.csv ${tally('failed')}`);
  if (counts.succeeded !== rows.length - tally('failed')) say(`summary says ${counts.succeeded} succeeded`);
  for (const status of ['created', 'updated', 'deleted', 'unchanged', 'superseded'] as const) {
    if (counts[status] !== tally(status))
      say(`summary says ${counts[status]} ${status}, records.csv ${tally(status)}`);
  }
}

/** Checks one run's result files against the model's outcomes for every row. */
export function checkRunFiles(
  label: string,
  rows: readonly Cells[],
  expected: readonly Expected[],
  files: RunFiles,
  ids: Ids,
  relax: Relaxations = {},
): string[] {
  const problems: string[] = [];
  const say = (text: string) => problems.push(`${label}: ${text}`);
  checkShape(say, rows, files);
  const records = new Map(files.records.map((r) => [Number(r.row), r]));
  const errors = new Map(files.errors.map((e) => [Number(e.row), e]));
  for (const want of expected) {
    checkRow(say, want, rows[want.row - 2] ?? [], records.get(want.row), errors.get(want.row), ids, relax);
  }
  return problems;
}

/** Dataverse's rows against the model's, field by field; ids the model did not know yet are taken as found. */
export function compareStates(label: string, model: State, actual: State): string[] {
  const problems: string[] = [];
  for (const [key, want] of model) {
    const got = actual.get(key);
    if (!got) problems.push(`${label}: ${key} is missing from Dataverse`);
    else if (!sameFields(want, got)) {
      problems.push(
        `${label}: ${key} holds ${JSON.stringify(pick(got))}, the model ${JSON.stringify(pick(want))}`,
      );
    } else if (!want.contactid.startsWith('pending:') && want.contactid !== got.contactid) {
      problems.push(`${label}: ${key} is record ${got.contactid}, was ${want.contactid}`);
    }
  }
  for (const key of actual.keys()) if (!model.has(key)) problems.push(`${label}: ${key} should not exist`);
  return problems;
}

function pick(contact: StoredContact): Record<string, unknown> {
  return Object.fromEntries(FIELDS.map((field) => [field, contact[field]]));
}

export interface ConcurrentRun {
  readonly spec: JobSpec;
  readonly rows: readonly Cells[];
  readonly files: RunFiles;
  /** The run's identity (see `StoredContact.creator`). */
  readonly identity: string;
  /** Rows a worker of this run wrote and died before storing their result: their message ran again. */
  readonly rewritten?: ReadonlySet<number>;
}

/**
 * Two runs at once: each key must end as one of the two serial orders left it, and both runs' rows of that
 * key must report what that same order has them report. Returns the problems and the state the model
 * continues from.
 */
export function checkConcurrent(
  label: string,
  before: State,
  runs: readonly [ConcurrentRun, ConcurrentRun],
  accounts: ReadonlyMap<string, string>,
  actual: State,
  relax: Relaxations = {},
): { problems: string[]; state: Map<string, StoredContact> } {
  const problems: string[] = [];
  runs.forEach((run, i) =>
    checkShape((text) => problems.push(`${label} run ${i + 1}: ${text}`), run.rows, run.files),
  );
  const [a, b] = runs;
  const orders: Order[] = [
    { name: 'first then second', first: a, second: b },
    { name: 'second then first', first: b, second: a },
  ].map(({ name, first, second }) => {
    const one = applyRun(first.spec, first.rows, before, accounts, first.identity);
    const two = applyRun(second.spec, second.rows, one.state, accounts, second.identity);
    return {
      name,
      state: two.state,
      // Each run's rows, and the ids its updates must name (before it in this order).
      views: [
        { run: first, rows: one.rows, before },
        { run: second, rows: two.rows, before: withIds(one.state, actual) },
      ],
    };
  });
  // A chunk whose worker died after writing ran again when its message came back, possibly after the other
  // run wrote the same keys: for those rows' keys, the order is this run, the other, this run again.
  for (const [again, other] of [
    [a, b],
    [b, a],
  ] as const) {
    if (!again.rewritten || again.rewritten.size === 0) continue;
    const one = applyRun(again.spec, again.rows, before, accounts, again.identity);
    const two = applyRun(other.spec, other.rows, one.state, accounts, other.identity);
    const three = applyRun(again.spec, again.rows, two.state, accounts, again.identity);
    const rewritten = again.rewritten;
    orders.push({
      name: `${again === a ? 'first' : 'second'}, other, its dead worker's rows again`,
      state: three.state,
      views: [
        { run: other, rows: two.rows, before: withIds(one.state, actual) },
        { run: again, rows: three.rows, before: withIds(two.state, actual) },
      ],
      onlyFor: (key) => {
        const rows = three.rows.filter((row) => row.key === key);
        return rows.length > 0 && rows.every((row) => rewritten.has(row.row));
      },
    });
  }
  const rowProblems = (order: Order, key: string | undefined): string[] => {
    const found: string[] = [];
    for (const view of order.views) {
      const records = new Map(view.run.files.records.map((r) => [Number(r.row), r]));
      const errors = new Map(view.run.files.errors.map((e) => [Number(e.row), e]));
      for (const want of view.rows.filter((r) => r.key === key)) {
        const cells = view.run.rows[want.row - 2] ?? [];
        const ids = { before: view.before, after: actual };
        checkRow(
          (text) => found.push(`${label}: ${text}`),
          want,
          cells,
          records.get(want.row),
          errors.get(want.row),
          ids,
          { ...relax, rewritten: view.run.rewritten },
        );
      }
    }
    return found;
  };
  // Rows without a key touch no record: either order must explain them.
  problems.push(...rowProblems(orders[0]!, undefined));
  const chosen = new Map<string, StoredContact>();
  const keys = new Set<string>();
  for (const order of orders)
    for (const view of order.views) for (const row of view.rows) if (row.key) keys.add(row.key);
  for (const key of before.keys()) keys.add(key);
  for (const key of actual.keys()) keys.add(key);
  for (const key of keys) {
    const explained = orders.find(
      (order) =>
        (order.onlyFor?.(key) ?? true) &&
        sameFields(order.state.get(key), actual.get(key)) &&
        rowProblems(order, key).length === 0,
    );
    const known = explained?.state.get(key);
    if (known) chosen.set(key, known);
    if (!explained) {
      problems.push(
        `${label}: ${key} is ${JSON.stringify(actual.get(key) && pick(actual.get(key)!))}; no serial order of the two runs` +
          ` gives that with the statuses reported (${orders
            .filter((o) => o.onlyFor?.(key) ?? true)
            .map((o) => {
              const rows = rowProblems(o, key);
              const state = `${o.name}: ${JSON.stringify(o.state.get(key) && pick(o.state.get(key)!))}`;
              return rows.length > 0 ? `${state}, but ${rows.join(' / ')}` : state;
            })
            .join('; ')})`,
      );
    }
  }
  // What only the model knows (which run created a record) continues from the order that explains each key.
  return { problems, state: adopt(actual, chosen) };
}

/** One serial order of two runs' writes: the state it leaves, and each run's rows as it has them report. */
interface Order {
  readonly name: string;
  readonly state: State;
  readonly views: readonly { run: ConcurrentRun; rows: readonly Expected[]; before: State }[];
  /** The keys this order can explain (all of them when absent). */
  readonly onlyFor?: (key: string) => boolean;
}

/** A model state with the ids of records that exist now (a record the first run created, for the second). */
function withIds(state: State, actual: State): State {
  const out = new Map<string, StoredContact>();
  for (const [key, contact] of state) {
    const found = actual.get(key);
    out.set(
      key,
      contact.contactid.startsWith('pending:') && found
        ? { ...contact, contactid: found.contactid }
        : contact,
    );
  }
  return out;
}
