import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../emulator/index.js';
import { createClient } from '../../../src/app/dataverse.js';
import type { BudgetShare } from '../../../src/dataverse/governor.js';
import { deterministicId } from '../../../src/dataverse/ids.js';

/** A share held at a fixed part, as another busy instance on the board would leave this one. */
function fixedShare(share: number): BudgetShare {
  return { share, track: () => undefined };
}

describe('bulk message size while instances share the identities (emulator)', () => {
  let emulator: RunningEmulator;

  beforeAll(async () => {
    emulator = await startEmulator({ profile: 'fast' });
  });
  afterAll(async () => {
    await emulator?.close();
  });

  const createdSizes = async (user: string, budgetShare?: BudgetShare): Promise<number[]> => {
    const client = createClient({
      url: emulator.url,
      identities: [user],
      ...(budgetShare ? { budgetShare } : {}),
    });
    try {
      const rows = Array.from({ length: 1600 }, (_, i) => ({
        id: deterministicId(user, String(i)),
        data: { dvp_name: `${user} ${i}`, dvp_quantity: i },
      }));
      const results = await client.createMultiple('dvp_sample', rows);
      expect(results.filter((r) => r.ok)).toHaveLength(1600);
    } finally {
      await client.close();
    }
    return emulator
      .recentLog()
      .filter((e) => e.user === user && e.operation === 'CreateMultiple')
      .map((e) => e.records ?? 0);
  };

  it('plans messages for the whole window, not for a small momentary part of it', async () => {
    // Alone, a fresh identity starts at 4 slots: 1,600 records spread as 4 messages of 400.
    const alone = await createdSizes('sizing-alone');
    // With a tenth of the window the limit is 1 slot; sized on it, the records would go as 1,000 + 600,
    // and the instance would keep those two large messages when its part grows. Sized on the slots over the
    // share (1 / 0.1 = 10), they go as 10 messages of 160, no larger than alone.
    const shared = await createdSizes('sizing-shared', fixedShare(0.1));
    expect(alone).toEqual([400, 400, 400, 400]);
    expect(shared).toEqual(Array.from({ length: 10 }, () => 160));
    // Pacing steadily on its own round trips (until the service is seen charging nothing), a 10-record probe
    // goes first to teach it what a message of this kind takes; the other 1,590 follow as 10 messages of 159.
    const steady = await createdSizes('sizing-steady', { ...fixedShare(0.1), steady: true });
    expect(steady).toEqual([10, ...Array.from({ length: 10 }, () => 159)]);
  });
});
