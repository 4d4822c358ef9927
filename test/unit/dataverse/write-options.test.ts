import { describe, expect, it } from 'vitest';
import { privilegesNeeded, writeHeaders } from '../../../src/dataverse/write-options.js';

const STEP = '0f8fad5b-d9cb-469f-a165-70867728950e';

describe('per-job write headers (reference §13)', () => {
  it('a plain job sends nothing extra', () => {
    expect(writeHeaders({ duplicateDetection: false })).toEqual({});
    expect(privilegesNeeded({ duplicateDetection: false })).toEqual([]);
  });

  it('bypass, duplicate detection and impersonation map to their headers', () => {
    expect(
      writeHeaders({
        bypass: { customSync: true, customAsync: true, powerAutomateFlows: true, stepIds: [STEP] },
        duplicateDetection: true,
        callerObjectId: STEP.toUpperCase(),
      }),
    ).toEqual({
      'MSCRM.BypassBusinessLogicExecution': 'CustomSync,CustomAsync',
      'MSCRM.BypassBusinessLogicExecutionStepIds': STEP,
      'MSCRM.SuppressCallbackRegistrationExpanderJob': 'true',
      'MSCRM.SuppressDuplicateDetection': 'false',
      CallerObjectId: STEP,
    });
    expect(
      writeHeaders({
        bypass: { customSync: false, customAsync: true, powerAutomateFlows: false },
        duplicateDetection: false,
      }),
    ).toEqual({ 'MSCRM.BypassBusinessLogicExecution': 'CustomAsync' });
  });

  it('names the privileges needed and who must hold them; flows need none', () => {
    expect(
      privilegesNeeded({
        bypass: { customSync: false, customAsync: false, powerAutomateFlows: true },
        duplicateDetection: true,
      }),
    ).toEqual([]);
    expect(
      privilegesNeeded({
        bypass: { customSync: true, customAsync: false, powerAutomateFlows: false, stepIds: [STEP] },
        duplicateDetection: false,
        callerObjectId: STEP,
      }),
    ).toEqual([
      { privilege: 'prvActOnBehalfOfAnotherUser', option: 'callerObjectId', holder: 'caller' },
      {
        privilege: 'prvBypassCustomBusinessLogic',
        option: 'bypass.customSync, bypass.stepIds',
        holder: 'writer',
      },
    ]);
  });
});
