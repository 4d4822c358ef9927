import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../emulator/index.js';

describe('[webapi §12] URL length', () => {
  let emu: RunningEmulator;
  beforeAll(async () => {
    emu = await startEmulator();
  });
  afterAll(async () => emu?.close());

  const get = (filter: string) =>
    fetch(`${emu.apiRoot}contacts?$select=contactid&$filter=${encodeURIComponent(filter)}`, {
      headers: { authorization: 'Bearer emulator:u' },
    });
  const clauses = (n: number) =>
    Array.from({ length: n }, (_, i) => `emailaddress1 eq 'person${i}@example.com'`).join(' or ');

  it('accepts a GET URL of up to 32,768 characters (over Node’s 16 KB default)', async () => {
    const filter = clauses(450);
    expect(encodeURIComponent(filter).length).toBeGreaterThan(20_000);
    expect(encodeURIComponent(filter).length).toBeLessThan(32_000);
    expect((await get(filter)).status).toBe(200);
  });

  it('refuses a longer URL with 414', async () => {
    expect((await get(clauses(800))).status).toBe(414);
  });
});
