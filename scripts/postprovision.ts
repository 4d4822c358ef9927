/**
 * Post-provision step: registers the function app's managed identities as Dataverse application
 * users and gives them a security role, with the deployer's own sign-in (az / azd / environment).
 *
 * azd runs it after `azd provision` with the template's outputs in the environment; it also runs
 * on its own:
 *   npx tsx scripts/postprovision.ts --url https://contoso.crm.dynamics.com \
 *     --client-ids <id>[,<id>...] --role "<security role>" [--dry-run]
 */
import type { TokenCredential } from '@azure/identity';
import { AzureCliCredential, DefaultAzureCredential } from '@azure/identity';
import { Command } from 'commander';
import { ensureApplicationUsers } from './lib/app-users.js';
import { isDeployScriptError } from './lib/errors.js';
import { bearerHttp } from './lib/http.js';

interface Options {
  url?: string;
  clientIds?: string;
  role?: string;
  tenantId?: string;
  azCli?: boolean;
  dryRun?: boolean;
}

const program = new Command('postprovision')
  .description('Register managed identities as Dataverse application users and assign a security role.')
  .option('--url <url>', 'Dataverse environment URL (env DATAVERSE_URL)')
  .option('--client-ids <ids>', 'managed identity client ids, comma-separated (env DATAVERSE_CLIENT_IDS)')
  .option('--role <name>', 'security role to assign (env DATAVERSE_SECURITY_ROLE); omit to assign none')
  .option('--tenant-id <id>', 'Entra tenant to sign in to (env AZURE_TENANT_ID)')
  .option('--az-cli', 'use the Azure CLI sign-in only, instead of the default credential chain')
  .option('--dry-run', 'look up and report, change nothing')
  .addHelpText(
    'after',
    '\nSet DVPIPE_SKIP_APP_USERS=true to skip this step (register the users by hand: docs/deploy.md).',
  );

async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const options = program.parse(argv).opts<Options>();
  if (env.DVPIPE_SKIP_APP_USERS === 'true') {
    console.log('postprovision: DVPIPE_SKIP_APP_USERS=true, not registering Dataverse application users.');
    return 0;
  }
  const url = options.url ?? env.DATAVERSE_URL;
  const clientIds = options.clientIds ?? env.DATAVERSE_CLIENT_IDS;
  const role = nonEmpty(options.role ?? env.DATAVERSE_SECURITY_ROLE);
  if (!url || !clientIds) {
    console.error('postprovision: need --url and --client-ids (or DATAVERSE_URL and DATAVERSE_CLIENT_IDS).');
    return 2;
  }
  const target = new URL(url);
  if (target.protocol !== 'https:' && !['127.0.0.1', 'localhost', '[::1]'].includes(target.hostname)) {
    // The deployer's bearer token must not travel in clear text.
    console.error(`postprovision: ${target.origin} is not https.`);
    return 2;
  }
  const origin = target.origin;
  const tenantId = nonEmpty(options.tenantId ?? env.AZURE_TENANT_ID);
  const credential: TokenCredential = options.azCli
    ? new AzureCliCredential(tenantId ? { tenantId } : {})
    : new DefaultAzureCredential(tenantId ? { tenantId } : {});

  console.log(`postprovision: Dataverse application users in ${origin}${options.dryRun ? ' (dry run)' : ''}`);
  if (!role) console.warn('postprovision: no security role given; the app gets 403 until one is assigned.');
  await ensureApplicationUsers({
    dataverseUrl: origin,
    clientIds: clientIds.split(','),
    roleName: role,
    send: bearerHttp(credential, origin),
    dryRun: options.dryRun === true,
    log: (line) => console.log(`postprovision: ${line}`),
  });
  return 0;
}

/**
 * What to do when registration failed: the infrastructure is in place, but until the identities are
 * application users with a role, every Dataverse call of the app gets 401.
 */
function fallback(env: NodeJS.ProcessEnv): string[] {
  const url = env.DATAVERSE_URL ?? '<environment url>';
  const ids = env.DATAVERSE_CLIENT_IDS ?? '<client ids>';
  const role = env.DATAVERSE_SECURITY_ROLE ?? '<security role>';
  return [
    '',
    "postprovision: FAILED. The app's managed identities are not Dataverse application users yet: every",
    'postprovision: Dataverse call of the app will get 401 until they are. Register them by hand, either:',
    `postprovision:   - signed in (az login) as a System Administrator of ${url}, run:`,
    `postprovision:       npx tsx scripts/postprovision.ts --url ${url} --client-ids ${ids} --role "${role}"`,
    'postprovision:   - or in the Power Platform admin center: Environment > Settings > Users + permissions >',
    `postprovision:     Application users > New app user, for each client id (${ids}), with the role "${role}"`,
    'postprovision:     (docs/deploy.md, "Application users").',
    'postprovision: Then run `azd deploy` (or `azd up` again). To provision without registering, for example',
    'postprovision: when an administrator registers them later: azd env set DVPIPE_SKIP_APP_USERS true',
  ];
}

function nonEmpty(value: string | undefined): string | undefined {
  return value && value.trim() !== '' ? value.trim() : undefined;
}

main(process.argv, process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (isDeployScriptError(error)) {
      console.error(`postprovision: ${error.message}`);
      if (error.details.hint) console.error(`postprovision: ${error.details.hint}`);
    } else {
      console.error('postprovision:', error instanceof Error ? error.message : error);
    }
    for (const line of fallback(process.env)) console.error(line);
    process.exitCode = 1;
  },
);
