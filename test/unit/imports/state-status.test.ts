import { describe, expect, it } from 'vitest';
import { completeForUpdate, splitForCreate, stateModelOf } from '../../../src/imports/state-status.js';
import { contact, systemuser } from '../mapping/fixtures.js';

const model = stateModelOf(contact)!;

describe('statecode / statuscode as Dataverse accepts them', () => {
  it('reads the model from metadata: initial state, the state of each status, default statuses', () => {
    expect(model.initialState).toBe(0);
    expect([...model.stateOfStatus]).toEqual([
      [1, 0],
      [2, 1],
    ]);
    expect([...model.defaultStatus]).toEqual([
      [0, 1],
      [1, 2],
    ]);
    expect(stateModelOf(systemuser)).toBeUndefined();
  });

  it('a create carries a status of the initial state itself, never statecode', () => {
    expect(splitForCreate({ lastname: 'a', statecode: 0, statuscode: 1 }, model)).toEqual({
      ok: true,
      data: { lastname: 'a', statuscode: 1 },
    });
    // statecode alone brings its default status, which the create can carry.
    expect(splitForCreate({ lastname: 'a', statecode: 0 }, model)).toEqual({
      ok: true,
      data: { lastname: 'a', statuscode: 1 },
    });
  });

  it('any other state goes to a follow-up update of both columns', () => {
    expect(splitForCreate({ lastname: 'a', statuscode: 2 }, model)).toEqual({
      ok: true,
      data: { lastname: 'a' },
      followUp: { statecode: 1, statuscode: 2 },
    });
    expect(splitForCreate({ lastname: 'a', statecode: 1 }, model)).toEqual({
      ok: true,
      data: { lastname: 'a' },
      followUp: { statecode: 1, statuscode: 2 },
    });
  });

  it('an update always sends both; a mismatched pair fails', () => {
    expect(completeForUpdate({ statuscode: 2 }, model)).toEqual({
      ok: true,
      data: { statecode: 1, statuscode: 2 },
    });
    expect(completeForUpdate({ statecode: 0 }, model)).toEqual({
      ok: true,
      data: { statecode: 0, statuscode: 1 },
    });
    const bad = completeForUpdate({ statecode: 0, statuscode: 2 }, model);
    expect(bad).toMatchObject({ ok: false });
    expect(!bad.ok && bad.message).toContain('statuscode 2 belongs to statecode 1, not 0');
    expect(splitForCreate({ statecode: 0, statuscode: 2 }, model).ok).toBe(false);
  });

  it('rows without state columns pass untouched', () => {
    const data = { lastname: 'a' };
    expect(splitForCreate(data, model)).toEqual({ ok: true, data });
    expect(completeForUpdate(data, model)).toEqual({ ok: true, data });
  });
});
