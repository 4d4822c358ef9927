import { lookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient, RestError } from '@azure/storage-blob';
import { parse } from 'csv-parse/sync';
import { names } from '../../app/names.js';
import { resultFiles } from '../../imports/paths.js';
import { runSmokeTest, SMOKE_CSV, SMOKE_JOB } from '../../imports/smoke-test.js';
import type { RunSummary } from '../../imports/types.js';
import { errorMessage } from '../../logging.js';
import { BlobObjectStore } from '../../storage/blob-store.js';

export interface SmokeOptions {
  readonly account?: string;
  readonly blobEndpoint?: string;
  readonly connectionString?: string;
  readonly container: string;
  readonly results: string;
  readonly job: string;
  readonly file?: string;
  readonly name?: string;
  readonly timeout: number;
  readonly json?: boolean;
}

/** Exit codes as for `dvpipe import`: 0 every row succeeded, 1 some rows failed, 2 no result. */
export async function smokeCommand(options: SmokeOptions): Promise<number> {
  const where = storageFrom(options);
  if ('error' in where) {
    console.error(where.error);
    return 2;
  }
  let csv: string | Buffer;
  if (options.file) {
    try {
      csv = await readFile(options.file);
    } catch (error) {
      console.error(`${options.file}: ${errorMessage(error)}`);
      return 2;
    }
  } else if (options.job === SMOKE_JOB) {
    csv = SMOKE_CSV;
  } else {
    console.error(
      `--job ${options.job} needs --file <csv>: the built-in row is for the bundled 'smoke' job.`,
    );
    return 2;
  }

  const { blobs, signIn } = where;
  const endpoint = blobs.url.replace(/\/$/, '');
  // A mistyped account name would otherwise surface as a failed sign-in (the token is asked for first).
  const unresolved = await hostUnresolved(endpoint);
  if (unresolved) {
    console.error(
      `Cannot reach ${endpoint}: ${unresolved}. Check the storage account name ` +
        '(azd env get-value AZURE_STORAGE_ACCOUNT_NAME) and your network.',
    );
    return 2;
  }
  const incoming = new BlobObjectStore(blobs.getContainerClient(options.container));
  const results = new BlobObjectStore(blobs.getContainerClient(options.results));
  const say = (line: string) => {
    if (!options.json) process.stdout.write(`${line}\n`);
  };
  let outcome;
  try {
    outcome = await runSmokeTest({
      incoming,
      results,
      job: options.job,
      csv,
      timeoutMs: options.timeout * 1000,
      ...(options.name ? { name: options.name } : {}),
      onUploaded: (path) => {
        say(
          `Uploaded ${options.container}/${path} to ${endpoint}${signIn ? ' with your Azure sign-in' : ''}.`,
        );
        say(`Waiting up to ${duration(options.timeout)} for the app to import it...`);
      },
    });
  } catch (error) {
    console.error(explain(error, options, endpoint, signIn));
    return 2;
  }

  if (!outcome.finished) {
    console.error(timedOut(options, outcome.path, outcome.waitedMs));
    return 2;
  }
  const { summary, resultsPrefix } = outcome;
  const folder = `${endpoint}/${options.results}/${resultsPrefix}`;
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ summary, results: folder })}\n`);
  } else {
    say(describe(summary));
    if (summary.rows.failed > 0) {
      const first = await firstFailure(results, `${resultsPrefix}${resultFiles.errors}`);
      if (first) say(`First failure: ${first}`);
    }
    say(`Results: ${folder} (${Object.values(resultFiles).join(', ')})`);
  }
  if (summary.error || summary.status === 'failed') return 2;
  return summary.rows.failed > 0 ? 1 : 0;
}

type Storage = { blobs: BlobServiceClient; signIn: boolean } | { error: string };

/** Entra sign-in (az login) against the account by default; a connection string for Azurite. */
function storageFrom(options: SmokeOptions): Storage {
  const account = options.account ?? process.env.AZURE_STORAGE_ACCOUNT_NAME;
  const given = [account, options.blobEndpoint, options.connectionString].filter((v) => v !== undefined);
  if (given.length !== 1) {
    return {
      error:
        'Name the storage account of your deployment: --account <name> (azd env get-value AZURE_STORAGE_ACCOUNT_NAME), ' +
        'or --blob-endpoint <url>, or --connection-string <string> for a local Azurite.',
    };
  }
  if (options.connectionString) {
    return { blobs: BlobServiceClient.fromConnectionString(options.connectionString), signIn: false };
  }
  const url = options.blobEndpoint ?? `https://${account}.blob.core.windows.net`;
  try {
    new URL(url);
  } catch {
    return {
      error: `${url} is not a URL: --blob-endpoint takes the account's blob endpoint, https://<account>.blob.core.windows.net.`,
    };
  }
  return { blobs: new BlobServiceClient(url, new DefaultAzureCredential()), signIn: true };
}

function describe(summary: RunSummary): string {
  const r = summary.rows;
  const how = [
    r.created ? `${count(r.created)} created` : '',
    r.updated ? `${count(r.updated)} updated` : '',
    r.upserted ? `${count(r.upserted)} upserted` : '',
    r.unchanged ? `${count(r.unchanged)} unchanged` : '',
  ].filter(Boolean);
  const state =
    summary.status === 'succeeded'
      ? 'Succeeded'
      : summary.status === 'failed'
        ? 'Failed'
        : 'Finished with errors';
  const lines = [
    `${state} in ${(summary.durationMs / 1000).toFixed(1)} s: ${count(r.total)} ${r.total === 1 ? 'row' : 'rows'}, ` +
      `${count(r.succeeded)} succeeded${how.length ? ` (${how.join(', ')})` : ''}, ${count(r.failed)} failed. Run ${summary.runId}.`,
  ];
  if (summary.error)
    lines.push(`The file could not be processed (${summary.error.code}): ${summary.error.message}`);
  return lines.join('\n');
}

async function firstFailure(results: BlobObjectStore, path: string): Promise<string | undefined> {
  const body = await results.get(path).catch(() => undefined);
  if (!body) return undefined;
  const rows = parse(body, { columns: true, bom: true, to: 1 }) as Record<string, string>[];
  const row = rows[0];
  return row
    ? `row ${row.row}${row.column ? `, column ${row.column}` : ''}: ${row.code} ${row.message}`
    : undefined;
}

function timedOut(options: SmokeOptions, path: string, waitedMs: number): string {
  return [
    `No result for ${options.container}/${path} after ${duration(waitedMs / 1000)}. What to check:`,
    '  - the code is deployed: `azd deploy`, and the function app lists importBlob among its functions;',
    `  - Event Grid delivers to the ${names.importEvents} queue: its subscription exists, and role assignments made by`,
    '    a fresh `azd up` can take a few minutes to apply. Without an event, the reconcileIncoming sweep starts the',
    '    file within about 25 minutes (RECONCILE_SCHEDULE, RECONCILE_AFTER_MINUTES);',
    `  - the ${names.importEvents}-poison queue and the event-deadletter container for messages that failed;`,
    "  - the app's logs in Application Insights (traces; docs/deploy.md has the queries).",
    `The file stays in ${options.container}/; its summary will appear under ${options.results}/${path}/ once it runs.`,
    'Wait longer with --timeout <seconds>.',
  ].join('\n');
}

/** What went wrong uploading or reading, in the user's terms: sign-in, permissions, or the wrong account. */
function explain(error: unknown, options: SmokeOptions, endpoint: string, signIn: boolean): string {
  if (error instanceof RestError && error.statusCode === 403 && signIn) {
    return [
      `Your sign-in may not write to ${options.container} or read ${options.results} in ${endpoint} (403 ${error.code ?? ''}).`,
      'Shared keys are off, so data access comes from a role: give yourself Storage Blob Data Contributor on the',
      'storage account (docs/deploy.md, "Uploading files and jobs"), or in a test environment',
      '`azd env set DEPLOYER_DATA_ACCESS true` and `azd provision`. A new role assignment can take a few minutes to apply.',
    ].join('\n');
  }
  if (error instanceof RestError && error.statusCode === 404) {
    return `${endpoint} has no container '${options.container}' or '${options.results}': is it your deployment's storage account (azd env get-value AZURE_STORAGE_ACCOUNT_NAME)?`;
  }
  if (
    error instanceof Error &&
    /CredentialUnavailable|AggregateAuthentication|AuthenticationRequired/.test(error.name)
  ) {
    // The default chain reports each credential it tried in `errors`.
    const attempts = 'errors' in error && Array.isArray(error.errors) ? (error.errors as unknown[]) : [error];
    return [
      'Could not sign in to Azure Storage. Tried:',
      ...attempts.map((attempt) => `  - ${firstSentence(attempt)}`),
      'What to do: sign in with `az login` (add --tenant <tenant id> for another tenant) as a user with data access',
      'to the account, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET for a service principal.',
    ].join('\n');
  }
  if (error instanceof RestError && error.statusCode === undefined) {
    return `Could not reach ${endpoint}: ${errorMessage(error)}. Check the account name and your network.`;
  }
  return errorMessage(error);
}

const count = (n: number) => n.toLocaleString('en-US');

/** Why the endpoint's host name does not resolve, or undefined when it does (or the resolver cannot say). */
async function hostUnresolved(endpoint: string): Promise<string | undefined> {
  const { hostname } = new URL(endpoint);
  try {
    await lookup(hostname);
    return undefined;
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? error.code : undefined;
    if (code === 'ENOTFOUND') return 'the host name does not resolve (ENOTFOUND)';
    if (code === 'EAI_AGAIN') return 'the host name could not be resolved (EAI_AGAIN)';
    return undefined;
  }
}

function firstSentence(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const line = (text.split('\n')[0] ?? '').replace(/^Error: /, '').trim();
  const sentence = line.split(/\.\s/)[0] ?? line;
  return sentence.length > 140 ? `${sentence.slice(0, 140)}…` : sentence;
}

function duration(seconds: number): string {
  return seconds >= 120 ? `${Math.round(seconds / 60)} min` : `${Math.round(seconds)} s`;
}
