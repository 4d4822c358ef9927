// A reference model of what Dataverse should hold after imports of contact files, written from the
// documented behaviour (README, jobs/README.md, DESIGN.md, the reference's Web API facts) and from the
// table's real metadata, not from the product's code. The property tests compare the emulator's rows and
// each run's records.csv / errors.csv with it.

export type Operation = 'create' | 'update' | 'upsert' | 'delete';

export interface JobSpec {
  readonly operation: Operation;
  readonly duplicateKeys: 'lastWins' | 'failAll';
  readonly emptyCells: 'skip' | 'clear';
}

/** The job file for a spec: a name of its own for each spec (a run's identity includes the job's name). */
export function jobFile(spec: JobSpec): Record<string, unknown> {
  const name = `${spec.operation}-${spec.duplicateKeys}-${spec.emptyCells}`;
  const columns: Record<string, unknown> =
    spec.operation === 'delete'
      ? { Email: 'emailaddress1' }
      : {
          Email: 'emailaddress1',
          'Last Name': 'lastname',
          'First Name': 'firstname',
          Company: { attribute: 'parentcustomerid', lookup: 'account', by: 'accountnumber' },
          'Contact Method': { attribute: 'preferredcontactmethodcode', choice: 'label' },
          Birthday: { attribute: 'birthdate', format: 'yyyy-MM-dd' },
        };
  return {
    name,
    table: 'contact',
    operation: spec.operation,
    key: ['emailaddress1'],
    duplicateKeys: spec.duplicateKeys,
    emptyCells: spec.emptyCells,
    columns,
  };
}

export const HEADER = ['Email', 'Last Name', 'First Name', 'Company', 'Contact Method', 'Birthday'] as const;
export type Cells = readonly string[];

/** The contact's real metadata (dataverse-schema.md): lengths and the preferred contact method's options. */
const MAX_NAME = 50;
const METHODS: Readonly<Record<string, number>> = { any: 1, email: 2, phone: 3, fax: 4, mail: 5 };

/** The mapped columns of a contact, as the Web API shows them. */
export interface Fields {
  readonly emailaddress1: string;
  readonly lastname: string | null;
  readonly firstname: string | null;
  readonly _parentcustomerid_value: string | null;
  readonly preferredcontactmethodcode: number | null;
  readonly birthdate: string | null;
}

export interface StoredContact extends Fields {
  readonly contactid: string;
  /**
   * The run that created the record with a create job, by its identity (DESIGN.md "Run identity": the
   * file's content, the job, the environment; a --rerun is a run of its own). The same run executed again
   * (a fresh --out folder knows nothing of the first) finds its own records, reports them created and
   * changes nothing, as a create never does.
   */
  readonly creator?: string;
}

/** What Dataverse holds: contacts by normalised key (trimmed, lower case, as alternate keys compare). */
export type State = ReadonlyMap<string, StoredContact>;

export type Status = 'created' | 'updated' | 'deleted' | 'unchanged' | 'superseded' | 'failed';

/** What the model says of one row: the statuses it may end with and, when failed, the codes it may carry. */
export interface Expected {
  readonly row: number;
  readonly key: string | undefined;
  readonly status: Status;
  readonly codes?: ReadonlySet<string>;
}

interface Evaluated {
  readonly key: string;
  readonly email: string;
  /** Undefined: the field is not written; null: it is cleared. */
  readonly payload: Partial<Record<keyof Omit<Fields, 'emailaddress1'>, string | number | null>>;
}

export const normalise = (email: string) => email.trim().toLowerCase();

/** Row-level validation and mapping of one row, or the codes it fails with. */
function evaluate(
  spec: JobSpec,
  cells: Cells,
  accounts: ReadonlyMap<string, string>,
): Evaluated | { codes: Set<string> } {
  const cell = (i: number) => (cells[i] ?? '').trim();
  const codes = new Set<string>();
  const email = cell(0);
  if (email === '') codes.add('MissingKey');
  const payload: Record<string, string | number | null> = {};
  const clears = spec.emptyCells === 'clear' && (spec.operation === 'update' || spec.operation === 'upsert');
  const empty = (field: string) => {
    if (clears) payload[field] = null;
  };
  if (spec.operation !== 'delete') {
    const text = (i: number, field: string) => {
      const value = cell(i);
      if (value === '') empty(field);
      else if (value.length > MAX_NAME) codes.add('StringTooLong');
      else payload[field] = value;
    };
    text(1, 'lastname');
    text(2, 'firstname');
    const company = cell(3);
    if (company === '') empty('_parentcustomerid_value');
    else if (!accounts.has(company.toLowerCase())) codes.add('LookupNotFound');
    else payload._parentcustomerid_value = accounts.get(company.toLowerCase()) ?? null;
    const method = cell(4);
    if (method === '') empty('preferredcontactmethodcode');
    else if (METHODS[method.toLowerCase()] === undefined) codes.add('BadChoice');
    else payload.preferredcontactmethodcode = METHODS[method.toLowerCase()] ?? null;
    const birthday = cell(5);
    if (birthday === '') empty('birthdate');
    else if (!isCalendarDate(birthday)) codes.add('BadDate');
    else payload.birthdate = birthday;
  }
  if (codes.size > 0) return { codes };
  return { key: normalise(email), email, payload };
}

function isCalendarDate(text: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

const blank: Omit<Fields, 'emailaddress1'> = {
  lastname: null,
  firstname: null,
  _parentcustomerid_value: null,
  preferredcontactmethodcode: null,
  birthdate: null,
};

function merge(
  base: Omit<Fields, 'emailaddress1'>,
  payload: Evaluated['payload'],
): Omit<Fields, 'emailaddress1'> {
  const out: Record<string, unknown> = { ...base };
  for (const [field, value] of Object.entries(payload)) if (value !== undefined) out[field] = value;
  return out as Omit<Fields, 'emailaddress1'>;
}

/** A row the plan settles before anything is written: in-file duplicate keys under the job's policy. */
function planDuplicates(spec: JobSpec, rows: readonly Cells[]): Map<number, Expected> {
  const settled = new Map<number, Expected>();
  const byKey = new Map<string, number[]>();
  rows.forEach((cells, i) => {
    const key = normalise(cells[0] ?? '');
    if (key === '') return;
    byKey.set(key, [...(byKey.get(key) ?? []), i]);
  });
  for (const [key, indexes] of byKey) {
    if (indexes.length < 2) continue;
    const losers = spec.duplicateKeys === 'lastWins' ? indexes.slice(0, -1) : indexes;
    for (const i of losers) {
      settled.set(
        i,
        spec.duplicateKeys === 'lastWins'
          ? { row: i + 2, key, status: 'superseded' }
          : { row: i + 2, key, status: 'failed', codes: new Set(['DuplicateKeyInFile']) },
      );
    }
  }
  return settled;
}

export interface RunModel {
  /** The state after the run, with `pending:<key>` ids for records the run creates. */
  readonly state: Map<string, StoredContact>;
  readonly rows: readonly Expected[];
}

/** One run of a file with a job against `state`, as a serial writer would do it. */
export function applyRun(
  spec: JobSpec,
  rows: readonly Cells[],
  before: State,
  accounts: ReadonlyMap<string, string>,
  run = 'run',
): RunModel {
  const state = new Map(before);
  const settled = planDuplicates(spec, rows);
  const outcomes: Expected[] = [];
  rows.forEach((cells, i) => {
    const row = i + 2;
    const early = settled.get(i);
    if (early) {
      outcomes.push(early);
      return;
    }
    const evaluated = evaluate(spec, cells, accounts);
    if ('codes' in evaluated) {
      const key = normalise(cells[0] ?? '') || undefined;
      outcomes.push({ row, key, status: 'failed', codes: evaluated.codes });
      return;
    }
    const { key, email, payload } = evaluated;
    const existing = state.get(key);
    switch (spec.operation) {
      case 'create':
        if (existing?.creator === `${run}#${row}`) {
          outcomes.push({ row, key, status: 'created' });
          return;
        }
        if (existing) {
          outcomes.push({ row, key, status: 'failed', codes: new Set(['RecordExists']) });
          return;
        }
        state.set(key, {
          contactid: `pending:${key}`,
          emailaddress1: email,
          ...merge(blank, payload),
          creator: `${run}#${row}`,
        });
        outcomes.push({ row, key, status: 'created' });
        return;
      case 'update':
        if (!existing) {
          outcomes.push({ row, key, status: 'failed', codes: new Set(['RecordNotFound']) });
          return;
        }
        state.set(key, { ...existing, ...merge(existing, payload) });
        outcomes.push({ row, key, status: 'updated' });
        return;
      case 'upsert':
        if (existing) {
          state.set(key, { ...existing, ...merge(existing, payload) });
          outcomes.push({ row, key, status: 'updated' });
        } else {
          state.set(key, { contactid: `pending:${key}`, emailaddress1: email, ...merge(blank, payload) });
          outcomes.push({ row, key, status: 'created' });
        }
        return;
      case 'delete':
        if (existing) state.delete(key);
        outcomes.push({ row, key, status: existing ? 'deleted' : 'unchanged' });
        return;
    }
  });
  return { state, rows: outcomes };
}

/** A fixed copy of a failed row: each cell the model would refuse replaced by a good value. */
export function fixRow(cells: Cells): string[] {
  const fixed = [...cells];
  const trimmed = (i: number) => (cells[i] ?? '').trim();
  if (trimmed(1).length > MAX_NAME) fixed[1] = 'Fixed';
  if (trimmed(2).length > MAX_NAME) fixed[2] = 'Fixed';
  if (trimmed(3) !== '' && !/^ACC-[0-3]$/i.test(trimmed(3))) fixed[3] = 'ACC-1';
  if (trimmed(4) !== '' && METHODS[trimmed(4).toLowerCase()] === undefined) fixed[4] = 'Email';
  if (trimmed(5) !== '' && !isCalendarDate(trimmed(5))) fixed[5] = '2001-02-03';
  return fixed;
}

/**
 * The state found in Dataverse, with what only the model knows (which run created a record) carried over
 * from the model's state for the same record.
 */
export function adopt(found: State, model: State): Map<string, StoredContact> {
  const out = new Map<string, StoredContact>();
  for (const [key, contact] of found) {
    const known = model.get(key);
    const same = known && (known.contactid === contact.contactid || known.contactid.startsWith('pending:'));
    out.set(key, same && known.creator ? { ...contact, creator: known.creator } : contact);
  }
  return out;
}
