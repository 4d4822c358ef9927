// Client-side cost of the import pipeline (read + map + validate + serialize) against raw csv-parse on
// the same file. Goal (issue 4): the pipeline costs at most 3x raw parsing. Metadata and lookups come
// from the emulator (fast profile) through the real client; lookups are resolved per chunk and cached.
// Prints one JSON document.
//
//   npx tsx bench/mapping.ts [--rows 200000] [--runs 3] [--chunk 5000]
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse';
import { startEmulator } from '../emulator/index.js';
import { parseImportJob, requiredHeaders } from '../src/config/job.js';
import { openCsv, type CsvRecord } from '../src/csv/reader.js';
import { createDataverseClient, emulatorTokenProvider, type TableMetadata } from '../src/dataverse/index.js';
import { createDuplicateKeyTracker } from '../src/mapping/duplicates.js';
import { createLookupResolver, resolveLookups } from '../src/mapping/lookups.js';
import { createRowMapper } from '../src/mapping/mapper.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '200000' },
    runs: { type: 'string', default: '3' },
    chunk: { type: 'string', default: '5000' },
  },
});
const rowCount = Number(values.rows);
const runs = Number(values.runs);
const chunkSize = Number(values.chunk);
const ACCOUNTS = 150;

const job = parseImportJob(
  {
    name: 'bench-contacts',
    table: 'contact',
    operation: 'upsert',
    key: ['emailaddress1'],
    columns: {
      Email: 'emailaddress1',
      'First Name': 'firstname',
      'Last Name': 'lastname',
      Company: { attribute: 'parentcustomerid', lookup: 'account', by: 'accountnumber' },
      'Contact Method': { attribute: 'preferredcontactmethodcode', choice: 'label' },
      Birthday: { attribute: 'birthdate', format: 'yyyy-MM-dd' },
      Phone: 'telephone1',
      'Do Not Email': 'donotemail',
      Income: 'annualincome',
    },
  },
  'bench',
);

async function writeInput(path: string): Promise<number> {
  const out = createWriteStream(path);
  const methods = ['Any', 'Email', 'Phone', 'Fax', 'Mail'];
  const first = ['Ada', 'Grace', 'Alan', 'Katherine', 'Radia', 'Edsger', 'Barbara'];
  const last = ['Lovelace', 'Hopper', 'Turing', 'Johnson', 'Perlman', 'Dijkstra', "O'Neil, Jr."];
  let lines = [Object.keys(job.columns).join(',')];
  for (let i = 0; i < rowCount; i += 1) {
    const lastName = last[i % last.length] as string;
    lines.push(
      [
        `person.${i}@example.com`,
        first[i % first.length],
        lastName.includes(',') ? `"${lastName}"` : lastName,
        `ACC-${String((i % ACCOUNTS) + 1).padStart(5, '0')}`,
        methods[i % methods.length],
        `19${50 + (i % 50)}-${String((i % 12) + 1).padStart(2, '0')}-${String((i % 28) + 1).padStart(2, '0')}`,
        `+1 555 ${String(i % 10_000).padStart(4, '0')}`,
        i % 3 === 0 ? 'yes' : 'no',
        `${(i * 37) % 100_000}.${String(i % 100).padStart(2, '0')}`,
      ].join(','),
    );
    if (lines.length === 10_000) {
      if (!out.write(lines.join('\n') + '\n')) await new Promise<void>((r) => out.once('drain', () => r()));
      lines = [];
    }
  }
  out.end(lines.join('\n') + '\n');
  await finished(out);
  return rowCount;
}

async function rawParse(path: string): Promise<number> {
  let count = 0;
  for await (const _record of createReadStream(path).pipe(parse())) count += 1;
  return count - 1;
}

async function pipeline(
  path: string,
  tables: { contact: TableMetadata; account: TableMetadata },
  resolver: ReturnType<typeof createLookupResolver>,
): Promise<{ rows: number; failed: number; bytes: number }> {
  const file = await openCsv(createReadStream(path), {
    source: path,
    expect: { required: requiredHeaders(job) },
  });
  const mapper = createRowMapper(job, tables.contact, new Map([['account', tables.account]]), {
    header: file.header.names,
  });
  const tracker = createDuplicateKeyTracker(job.duplicateKeys);
  let chunk: CsvRecord[] = [];
  let rows = 0;
  let failed = 0;
  let bytes = 0;
  const flush = async () => {
    const lookups = await resolveLookups(mapper.lookupsNeeded(chunk), resolver);
    for (const record of chunk) {
      const result = mapper.map(record, lookups);
      if (!result.ok) {
        failed += 1;
        continue;
      }
      if (result.keyString !== undefined)
        failed += tracker.add(result.keyString, result.row, result.keyString).length;
      bytes += JSON.stringify(result.payload).length;
    }
    chunk = [];
  };
  for await (const row of file.rows) {
    rows += 1;
    if (row.error !== undefined) {
      failed += 1;
      continue;
    }
    chunk.push(row);
    if (chunk.length === chunkSize) await flush();
  }
  await flush();
  return { rows, failed, bytes };
}

const emulator = await startEmulator({});
const dir = await mkdtemp(join(tmpdir(), 'bench-mapping-'));
try {
  const client = createDataverseClient({
    url: emulator.url,
    tokenProviders: [emulatorTokenProvider(emulator.url)],
  });
  await client.createMultiple(
    'account',
    Array.from({ length: ACCOUNTS }, (_, i) => ({
      id: randomUUID(),
      data: { name: `Account ${i + 1}`, accountnumber: `ACC-${String(i + 1).padStart(5, '0')}` },
    })),
  );
  const [contact, account] = await Promise.all([client.metadata('contact'), client.metadata('account')]);
  const path = join(dir, 'contacts.csv');
  await writeInput(path);

  const rawTimes: number[] = [];
  const pipelineTimes: number[] = [];
  let last: Awaited<ReturnType<typeof pipeline>> | undefined;
  let requestsForLookups = 0;
  for (let run = 0; run < runs; run += 1) {
    let start = performance.now();
    const parsed = await rawParse(path);
    rawTimes.push(performance.now() - start);
    if (parsed !== rowCount) throw new Error(`raw parse read ${parsed} rows, expected ${rowCount}`);

    // A fresh resolver per run: each run pays for its own lookups, as a real run would.
    const before = client.metrics().requests;
    const resolver = createLookupResolver(
      (table, filter, select) => client.query(table, { filter, select: [...select] }),
      (name) => (name === 'account' ? account : client.metadata(name)),
    );
    start = performance.now();
    last = await pipeline(path, { contact, account }, resolver);
    pipelineTimes.push(performance.now() - start);
    requestsForLookups = client.metrics().requests - before;
    if (last.rows !== rowCount || last.failed !== 0) throw new Error(`pipeline: ${JSON.stringify(last)}`);
  }
  await client.close();
  const best = (times: number[]) => Math.min(...times);
  const rate = (ms: number) => Math.round(rowCount / (ms / 1000));
  console.log(
    JSON.stringify(
      {
        bench: 'mapping',
        rows: rowCount,
        runs,
        chunkSize,
        rawCsvParse: { bestMs: Math.round(best(rawTimes)), rowsPerSecond: rate(best(rawTimes)) },
        pipeline: {
          bestMs: Math.round(best(pipelineTimes)),
          rowsPerSecond: rate(best(pipelineTimes)),
          payloadBytes: last?.bytes,
          lookupRequests: requestsForLookups,
        },
        costRatio: Number((best(pipelineTimes) / best(rawTimes)).toFixed(2)),
        goal: 'costRatio <= 3',
        peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      },
      null,
      2,
    ),
  );
} finally {
  await rm(dir, { recursive: true, force: true });
  await emulator.close();
}
