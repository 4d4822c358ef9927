import { readFile } from 'node:fs/promises';
import { createClient, emulatorUser } from '../../app/dataverse.js';
import { isJobDefinitionError, loadJobFile } from '../../config/job.js';
import { errorMessage } from '../../logging.js';
import { checkJobPrivileges } from '../../imports/privileges.js';
import { formatProblems, isRunnable, validateJobAgainstMetadata } from '../../mapping/validate.js';

export interface ValidateOptions {
  readonly url?: string;
  readonly user: string;
}

/** Exit 0 when every job can run, 2 otherwise; warnings are printed but do not fail. */
export async function validate(files: readonly string[], options: ValidateOptions): Promise<number> {
  const client = options.url
    ? createClient({ url: options.url, identities: emulatorUser(options.url, options.user) })
    : undefined;
  let ok = true;
  try {
    for (const file of files) {
      try {
        if (await isJsonSchema(file)) {
          // `dvpipe jobs validate jobs/*.json` picks up jobs/job.schema.json too: not a job, not a failure.
          process.stdout.write(
            `${file}: a JSON Schema (what editors check job files against), not a job: skipped\n`,
          );
          continue;
        }
        const job = await loadJobFile(file);
        if (!client) {
          process.stdout.write(
            `${file}: ${job.type} job '${job.name}' is well-formed (add --url to check it against Dataverse)\n`,
          );
          continue;
        }
        const problems = await validateJobAgainstMetadata(job, (table) => client.metadata(table));
        if (job.type === 'import' && isRunnable(problems)) {
          // Bypass and impersonation need privileges: say now which one is missing, not at import time.
          const missing = await checkJobPrivileges(client, job);
          if (missing)
            problems.push({ severity: 'error', path: '', message: `${missing.code}: ${missing.message}` });
        }
        if (problems.length > 0) process.stdout.write(`${formatProblems(problems, file)}\n`);
        if (isRunnable(problems))
          process.stdout.write(`${file}: ${job.type} job '${job.name}' fits table '${job.table}'\n`);
        else ok = false;
      } catch (error) {
        ok = false;
        process.stdout.write(
          `${isJobDefinitionError(error) ? error.message : `${file}: ${errorMessage(error)}`}\n`,
        );
      }
    }
  } finally {
    await client?.close();
  }
  return ok ? 0 : 2;
}

/** A JSON Schema document (its `$schema` names a json-schema.org draft) rather than a job. */
async function isJsonSchema(file: string): Promise<boolean> {
  try {
    const parsed: unknown = JSON.parse((await readFile(file, 'utf8')).replace(/^\uFEFF/, ''));
    return (
      typeof parsed === 'object' &&
      parsed !== null &&
      '$schema' in parsed &&
      typeof parsed.$schema === 'string' &&
      /^https?:\/\/json-schema\.org\//.test(parsed.$schema)
    );
  } catch {
    // Unreadable or not JSON: loadJobFile says what is wrong with it.
    return false;
  }
}
