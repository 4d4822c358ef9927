import { JobDefinitionError, parseJob, type ExtractJob, type ImportJob, type Job } from './job.js';
import type { ObjectStore } from '../storage/object-store.js';

/**
 * Job definitions by name. Stores are searched in order (the `jobs` container first, then the
 * definitions shipped with the app), so users change jobs without redeploying.
 */
export class JobCatalog {
  readonly #stores: readonly ObjectStore[];

  constructor(stores: readonly ObjectStore[]) {
    this.#stores = stores;
  }

  async get(name: string): Promise<Job | undefined> {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) return undefined;
    for (const store of this.#stores) {
      const body = await store.get(`${name}.json`);
      if (body)
        return parseJob(parseJson(body, `${store.location}${name}.json`), `${store.location}${name}.json`);
    }
    return undefined;
  }

  async getImport(name: string): Promise<ImportJob | undefined> {
    const job = await this.get(name);
    return job && job.type === 'import' ? job : undefined;
  }

  /** Every extract job, first store winning on a name clash; invalid files are reported, not skipped silently. */
  async extracts(): Promise<{ jobs: ExtractJob[]; problems: string[] }> {
    const seen = new Set<string>();
    const jobs: ExtractJob[] = [];
    const problems: string[] = [];
    for (const store of this.#stores) {
      for await (const path of store.list('')) {
        if (!path.endsWith('.json') || path.includes('/') || path.endsWith('.schema.json')) continue;
        const name = path.slice(0, -'.json'.length);
        if (seen.has(name)) continue;
        seen.add(name);
        try {
          const body = await store.get(path);
          if (!body) continue;
          const job = parseJob(parseJson(body, store.location + path), store.location + path);
          if (job.type === 'extract') jobs.push(job);
        } catch (error) {
          problems.push(error instanceof Error ? error.message : String(error));
        }
      }
    }
    return { jobs, problems };
  }
}

function parseJson(body: Buffer, source: string): unknown {
  const text = body.toString('utf8');
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new JobDefinitionError(source, [{ path: '', message: `not valid JSON: ${reason}` }]);
  }
}
