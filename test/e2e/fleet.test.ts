// Two local Functions hosts (processes of their own, the compiled app) with two identities, one Azurite and
// one emulator with its limits on: the file is written once, every row with its values, and both hosts
// and both identities did part of the work.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import type { BlobServiceClient } from '@azure/storage-blob';
import { startEmulator, type RunningEmulator } from '../../emulator/index.js';
import { startAzurite, type RunningAzurite } from '../../dev/azurite.js';
import {
  provisionStorage,
  readResultText,
  startFleetHost,
  waitForSummary,
  type FleetHost,
} from '../../dev/fleet.js';
import { packageRoot } from '../../src/app/package-root.js';
import { names } from '../../src/app/runtime.js';

const root = packageRoot();
const identities = ['fleet-a', 'fleet-b'];
const job = {
  name: 'fleet-contacts',
  table: 'contact',
  operation: 'upsert',
  key: ['emailaddress1'],
  columns: { Email: 'emailaddress1', 'First Name': 'firstname', 'Last Name': 'lastname', Title: 'jobtitle' },
};
const ROWS = 1_200;
const EXISTING = 200;
const row = (i: number) => ({
  email: `fleet${i}@example.com`,
  first: `F${i}`,
  last: `L${i}`,
  title: ['Engineer', 'Analyst', 'Manager'][i % 3]!,
});

describe('a fleet of two local hosts sharing two identities', () => {
  let azurite: RunningAzurite;
  let emulator: RunningEmulator;
  let blobs: BlobServiceClient;
  const hosts: FleetHost[] = [];

  beforeAll(async () => {
    if (!existsSync(join(root, 'dist', 'functions', 'writeChunk.js')))
      throw new Error('dist/ is missing: run `npm run build` first (npm ci runs it through "prepare")');
    // The realistic profile's limits, time-scaled so the file takes seconds, yet slow enough that one
    // host cannot take and finish every chunk before the other's next poll (0.02 let that happen).
    [azurite, emulator] = await Promise.all([
      startAzurite(),
      startEmulator({ profile: 'realistic', timeScale: 0.06 }),
    ]);
    blobs = await provisionStorage(azurite.connectionString);
    const body = JSON.stringify(job);
    await blobs
      .getContainerClient(names.jobs)
      .getBlockBlobClient(`${job.name}.json`)
      .upload(body, Buffer.byteLength(body));
    for (let i = 0; i < EXISTING; i += 1)
      emulator.store.put('contact', { emailaddress1: row(i).email, firstname: 'Old', lastname: 'Old' });
    hosts.push(
      ...(await Promise.all(
        [0, 1].map((index) =>
          startFleetHost({
            index,
            storage: azurite.connectionString,
            dataverseUrl: emulator.url,
            identities,
            chunkSize: 100,
            eventGrid: index === 0,
            settings: {
              DATAVERSE_FLEET_REFRESH_MS: '200',
              DATAVERSE_BULK_SIZE: '50',
              // One message at a time per host: with host.json's batch of 4, a host that polled first could
              // take and finish every chunk before the other's poll on a loaded machine (seen in CI runs).
              AzureFunctionsJobHost__extensions__queues__batchSize: '1',
              AzureFunctionsJobHost__extensions__queues__newBatchThreshold: '0',
            },
          }),
        ),
      )),
    );
  }, 120_000);

  afterAll(async () => {
    await Promise.all(hosts.map((h) => h.stop()));
    await emulator?.close();
    await azurite?.stop();
  });

  it('writes every row once with its values, reports every row once, and spreads the work', async () => {
    const lines = ['Email,First Name,Last Name,Title'];
    for (let i = 0; i < ROWS; i += 1) {
      const r = row(i);
      lines.push(`${r.email},${r.first},${r.last},${r.title}`);
    }
    const body = `${lines.join('\n')}\n`;
    await blobs
      .getContainerClient(names.incoming)
      .getBlockBlobClient(`${job.name}/fleet.csv`)
      .upload(body, Buffer.byteLength(body));
    const { folder, summary } = await waitForSummary(blobs, job.name, 'fleet.csv', 90_000, () =>
      hosts.every((h) => h.child.exitCode === null),
    );
    expect(summary).toMatchObject({
      status: 'succeeded',
      rows: { total: ROWS, succeeded: ROWS, failed: 0, created: ROWS - EXISTING, updated: EXISTING },
    });

    // Dataverse holds each key once, with the file's values (the seeded rows updated).
    const stored = emulator.store.all('contact');
    expect(stored).toHaveLength(ROWS);
    const byEmail = new Map(stored.map((c) => [String(c.emailaddress1), c]));
    for (let i = 0; i < ROWS; i += 1) {
      const r = row(i);
      expect(byEmail.get(r.email), r.email).toMatchObject({
        firstname: r.first,
        lastname: r.last,
        jobtitle: r.title,
      });
    }

    // records.csv: every row once, with the id Dataverse holds and what happened to it.
    const records = parse(await readResultText(blobs, `${folder}records.csv`), {
      columns: true,
      bom: true,
    }) as Record<string, string>[];
    expect(records).toHaveLength(ROWS);
    const seenRows = new Set(records.map((r) => Number(r.row)));
    expect(seenRows.size).toBe(ROWS);
    for (const record of records) {
      const i = Number(record.row) - 2;
      const stored = byEmail.get(row(i).email);
      expect(record.id).toBe(stored?.contactid);
      expect(record.status).toBe(i < EXISTING ? 'updated' : 'created');
      expect(record.Email).toBe(row(i).email);
    }
    expect(await readResultText(blobs, `${folder}errors.csv`).then((t) => t.trim().split('\n'))).toHaveLength(
      1,
    );

    // Both identities sent writes, and both hosts wrote chunks.
    const users = emulator.stats().users.filter((u) => identities.includes(u.user));
    expect(users.map((u) => u.user).sort()).toEqual(identities);
    for (const u of users) expect(u.totalRequests).toBeGreaterThan(0);
    for (const host of hosts) {
      const written = host.output.filter((l) => /Executed 'writeChunk' \(Succeeded/.test(l)).length;
      expect(written, `host ${host.index}`).toBeGreaterThan(0);
    }
  }, 120_000);
});
