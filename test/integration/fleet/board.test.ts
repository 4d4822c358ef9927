// The fleet board on Azurite: records, ages by the storage service's clock, shares, a clean leave.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { startAzurite, type RunningAzurite } from '../../../dev/azurite.js';
import { BlobFleetBoard } from '../../../src/fleet/board.js';
import { FleetShare } from '../../../src/fleet/share.js';
import { systemClock } from '../../../src/dataverse/clock.js';

describe('the fleet board in blob storage', () => {
  let azurite: RunningAzurite;
  let container: ContainerClient;

  beforeAll(async () => {
    azurite = await startAzurite();
    container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('runs');
    await container.createIfNotExists();
  }, 60_000);

  afterAll(async () => {
    await azurite?.stop();
  });

  it('lists every member with its backlog and a fresh age, and forgets one that leaves', async () => {
    const board = new BlobFleetBoard(container, '_fleet/pool-a');
    await board.publish({ instance: 'one', demand: 12 });
    const seen = await board.publish({ instance: 'two', demand: 4 });
    const byName = new Map(seen.map((m) => [m.instance, m]));
    expect([...byName.keys()].sort()).toEqual(['one', 'two']);
    expect(byName.get('one')?.demand).toBe(12);
    expect(byName.get('two')?.demand).toBe(4);
    // Ages compare the service's Last-Modified with the service's Date: whole seconds, and just written.
    for (const m of seen) expect(m.ageMs).toBeLessThanOrEqual(2_000);
    // Another pool's board is another folder.
    expect(
      await new BlobFleetBoard(container, '_fleet/pool-b').publish({ instance: 'x', demand: 1 }),
    ).toEqual([{ instance: 'x', demand: 1, ageMs: expect.any(Number) as number }]);
    await board.remove('one');
    expect((await board.publish({ instance: 'two', demand: 4 })).map((m) => m.instance)).toEqual(['two']);
  });

  it('two instances with equal backlogs take half each; the survivor takes all once the other closes', async () => {
    const board = new BlobFleetBoard(container, '_fleet/pool-c');
    const a = new FleetShare({ board, clock: systemClock, refreshMs: 60_000, instance: 'a' });
    const b = new FleetShare({ board, clock: systemClock, refreshMs: 60_000, instance: 'b' });
    a.track(() => 6);
    b.track(() => 6);
    await a.refresh();
    await b.refresh();
    await a.refresh();
    expect([a.share, b.share]).toEqual([0.5, 0.5]);
    await a.close();
    await b.refresh();
    expect(b.share).toBe(1);
    await b.close();
    const left: string[] = [];
    for await (const blob of container.listBlobsFlat({ prefix: '_fleet/pool-c/' })) left.push(blob.name);
    expect(left).toEqual([]);
  });
});
