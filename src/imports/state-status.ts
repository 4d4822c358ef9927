import type { TableMetadata } from '../dataverse/model.js';
import type { Row } from './write-client.js';

// statecode / statuscode the way Dataverse accepts them (reference §13, dataverse-schema.md §5):
// statecode cannot be set on create, a create may carry only a status of the initial state, and a
// change of state is an update that sets both together (SetState is deprecated). So a row asking for
// another state is created first and its state set by a follow-up update of both columns.

const STATE = 'statecode';
const STATUS = 'statuscode';

export interface StateModel {
  /** The state a new record starts in (the lowest statecode value: 0, "Active", on standard tables). */
  readonly initialState: number;
  /** statuscode -> the statecode it belongs to. */
  readonly stateOfStatus: ReadonlyMap<number, number>;
  /** statecode -> its default statuscode. */
  readonly defaultStatus: ReadonlyMap<number, number>;
}

/** The table's state model, or undefined when it has no statecode/statuscode pair with known states. */
export function stateModelOf(table: TableMetadata): StateModel | undefined {
  const state = table.attributes.get(STATE);
  const status = table.attributes.get(STATUS);
  if (state?.type !== 'State' || status?.type !== 'Status') return undefined;
  const states = state.options ?? [];
  if (states.length === 0) return undefined;
  const stateOfStatus = new Map<number, number>();
  for (const o of status.options ?? []) if (o.state !== undefined) stateOfStatus.set(o.value, o.state);
  if (stateOfStatus.size === 0) return undefined;
  const defaultStatus = new Map<number, number>();
  for (const o of states) {
    const byMetadata = o.defaultStatus;
    const first = [...stateOfStatus].find(([, s]) => s === o.value)?.[0];
    const chosen = byMetadata ?? first;
    if (chosen !== undefined) defaultStatus.set(o.value, chosen);
  }
  return { initialState: Math.min(...states.map((o) => o.value)), stateOfStatus, defaultStatus };
}

export type StateSplit =
  | { readonly ok: true; readonly data: Row; readonly followUp?: Row }
  | { readonly ok: false; readonly message: string };

function asNumber(value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined;
}

/** The state and status a row asks for, made whole and checked against each other. */
function wanted(data: Row, model: StateModel): StateSplit | { ok: true; state?: number; status?: number } {
  const state = asNumber(data[STATE]);
  const status = asNumber(data[STATUS]);
  if (state === undefined && status === undefined) return { ok: true };
  if (status !== undefined) {
    const owner = model.stateOfStatus.get(status);
    if (state !== undefined && owner !== undefined && owner !== state) {
      return {
        ok: false,
        message: `statuscode ${status} belongs to statecode ${owner}, not ${state}: set a status of that state, or leave one of them empty.`,
      };
    }
    return { ok: true, state: state ?? owner, status };
  }
  return { ok: true, state, status: state === undefined ? undefined : model.defaultStatus.get(state) };
}

/** A create: the payload it may carry, and the update that sets a state other than the initial one. */
export function splitForCreate(data: Row, model: StateModel | undefined): StateSplit {
  if (!model || (!(STATE in data) && !(STATUS in data))) return { ok: true, data };
  const asked = wanted(data, model);
  if (!asked.ok) return asked;
  const { [STATE]: _state, [STATUS]: _status, ...rest } = data;
  const { state, status } = asked as { state?: number; status?: number };
  if (state === undefined || state === model.initialState) {
    // The create carries a status of the initial state itself: one request, one outcome.
    return { ok: true, data: status === undefined ? rest : { ...rest, [STATUS]: status } };
  }
  const followUp: Row = { [STATE]: state };
  if (status !== undefined) followUp[STATUS] = status;
  return { ok: true, data: rest, followUp };
}

/** An update: statecode and statuscode always go together. */
export function completeForUpdate(data: Row, model: StateModel | undefined): StateSplit {
  if (!model || (!(STATE in data) && !(STATUS in data))) return { ok: true, data };
  const asked = wanted(data, model);
  if (!asked.ok) return asked;
  const { state, status } = asked as { state?: number; status?: number };
  const out: Row = { ...data };
  if (state !== undefined) out[STATE] = state;
  if (status !== undefined) out[STATUS] = status;
  return { ok: true, data: out };
}
