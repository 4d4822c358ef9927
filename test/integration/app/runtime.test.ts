import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../../dev/azurite.js';
import { startEmulator, type RunningEmulator } from '../../../emulator/index.js';
import { closeRuntime, getRuntime } from '../../../src/app/runtime.js';

// closeRuntime ends what the runtime started, so a host that runs the app in-process (npm start's
// local host) can stop without exiting: before it, Ctrl+C left the fleet board's refresh loop
// retrying writes to the stopped Azurite, and the process never ended.

let azurite: RunningAzurite;
let emulator: RunningEmulator;
beforeAll(async () => {
  [azurite, emulator] = await Promise.all([startAzurite(), startEmulator({ profile: 'fast' })]);
}, 60_000);
afterAll(async () => {
  await emulator?.close();
  await azurite?.stop();
});

/** The instances on the fleet board in `runs/_fleet/`, with when each last wrote its record. */
async function board(): Promise<Map<string, number>> {
  const runs = getRuntime(env()).containers.runs;
  const members = new Map<string, number>();
  for await (const blob of runs.listBlobsFlat({ prefix: '_fleet/' }))
    members.set(blob.name, blob.properties.lastModified.getTime());
  return members;
}

const env = () => ({
  Storage: azurite.connectionString,
  DATAVERSE_URL: emulator.url,
  DATAVERSE_FLEET_REFRESH_MS: '200',
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('closeRuntime', () => {
  it('takes the instance off the fleet board and stops refreshing it; the next getRuntime builds a new runtime', async () => {
    const runtime = getRuntime(env());
    expect(getRuntime(env())).toBe(runtime);
    expect(runtime.settings.DATAVERSE_FLEET_SHARING).toBe(true);
    await runtime.containers.runs.createIfNotExists();
    // A request makes the client, whose fleet share publishes this instance every 200 ms.
    expect((await runtime.client.whoAmI()).userId).toMatch(/^[0-9a-f-]{36}$/);
    const deadline = Date.now() + 10_000;
    while ((await board()).size === 0 && Date.now() < deadline) await sleep(100);
    const [member] = [...(await board()).keys()];
    expect(member).toMatch(/^_fleet\/[0-9a-f]{24}\/[0-9a-f-]{36}$/);

    await closeRuntime();
    // Off the board at once, and nothing writes it again (several refresh periods later).
    const next = getRuntime(env());
    // By identity: vitest's not.toBe reads the objects' getters, and the lazy `client` getter would make one.
    expect(next === runtime).toBe(false);
    expect([...(await board()).keys()]).toEqual([]);
    await sleep(1_000);
    expect([...(await board()).keys()]).toEqual([]);
    await closeRuntime();
  });
});
