import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BicepFile, SyntaxNode } from './bicep-tree.js';
import {
  literalString,
  loadInfra,
  appSettings,
  modules,
  ownProperty,
  params,
  propertyValues,
  repoRoot,
  resources,
  stringArray,
  variable,
} from './bicep-tree.js';

// Security and platform policy, asserted on the parsed templates (no Bicep compiler offline).

const files = loadInfra();

function file(path: string): BicepFile {
  const found = files.find((f) => f.path === path);
  if (!found) throw new Error(`${path} not found`);
  return found;
}

function resourcesOfType(prefix: string): { file: BicepFile; body: SyntaxNode }[] {
  return files.flatMap((f) =>
    resources(f)
      .filter((r) => r.type.startsWith(`${prefix}@`))
      .map((r) => ({ file: f, body: r.body })),
  );
}

/** The one resource of a type that is declared, not just referenced with `existing`. */
function declared(prefix: string): SyntaxNode {
  const found = resourcesOfType(prefix).filter((r) => ownProperty(r.body, 'location') !== undefined);
  expect(found, prefix).toHaveLength(1);
  const [only] = found;
  if (!only) throw new Error(prefix);
  return only.body;
}

function path(node: SyntaxNode, ...keys: string[]): SyntaxNode | undefined {
  let current: SyntaxNode | undefined = node;
  for (const key of keys) current = current && ownProperty(current, key);
  return current;
}

function text(node: SyntaxNode, ...keys: string[]): string | undefined {
  const value = path(node, ...keys);
  return value && (literalString(value) ?? value.text);
}

function paramDefault(f: BicepFile, name: string): string | undefined {
  return params(f).find((p) => p.name === name)?.defaultValue?.text;
}

describe('storage account', () => {
  const account = declared('Microsoft.Storage/storageAccounts');

  it('allows identity access only, over TLS 1.2+ and HTTPS, with no public blobs', () => {
    expect(text(account, 'properties', 'allowSharedKeyAccess')).toBe('false');
    expect(text(account, 'properties', 'minimumTlsVersion')).toBe('TLS1_2');
    expect(text(account, 'properties', 'supportsHttpsTrafficOnly')).toBe('true');
    expect(text(account, 'properties', 'allowBlobPublicAccess')).toBe('false');
  });

  it('keeps no soft-deleted copy of CRM data past the retention period: soft delete off by default, rules earlier when on', () => {
    const storage = file('infra/modules/storage.bicep');
    const blobService = declaredChild('Microsoft.Storage/storageAccounts/blobServices');
    expect(text(blobService, 'properties', 'deleteRetentionPolicy')).toBe('softDelete');
    expect(text(blobService, 'properties', 'containerDeleteRetentionPolicy')).toBe('softDelete');
    expect(paramDefault(storage, 'softDeleteDays')).toBe('0');
    expect(variable(storage, 'softDelete')?.text).toBe(
      'softDeleteDays > 0 ? { enabled: true, days: softDeleteDays } : { enabled: false }',
    );
    expect(variable(storage, 'expireAfterDays')?.text).toBe('max(1, retentionDays - softDeleteDays)');
    expect(variable(storage, 'expireIncomingAfterDays')?.text).toBe(
      'max(1, incomingRetentionDays - softDeleteDays)',
    );
    // Nothing else turns it on: versioning would keep every overwritten input too.
    expect(storage.text).not.toMatch(/isVersioningEnabled:\s*true|changeFeed/);
  });

  it('creates the containers and queues the product uses', () => {
    const storage = file('infra/modules/storage.bicep');
    expect(stringArray(variable(storage, 'dataContainers')).sort()).toEqual(
      ['extracts', 'incoming', 'jobs', 'results', 'runs'].sort(),
    );
    expect(stringArray(variable(storage, 'queueNames')).sort()).toEqual(['import-chunks', 'import-events']);
  });

  it('expires run state, results and extracts after a retention parameter', () => {
    const storage = file('infra/modules/storage.bicep');
    expect(stringArray(variable(storage, 'retainedContainers')).sort()).toEqual([
      'extracts',
      'results',
      'runs',
    ]);
    declaredChild('Microsoft.Storage/storageAccounts/managementPolicies');
    const retention = variable(storage, 'retentionRule');
    expect(retention).toBeDefined();
    if (!retention) return;
    expect(
      text(retention, 'definition', 'actions', 'baseBlob', 'delete', 'daysAfterModificationGreaterThan'),
    ).toBe('expireAfterDays');
    const incoming = variable(storage, 'incomingRule');
    expect(
      incoming &&
        text(incoming, 'definition', 'actions', 'baseBlob', 'delete', 'daysAfterModificationGreaterThan'),
    ).toBe('expireIncomingAfterDays');
    expect(params(storage).map((p) => p.name)).toContain('retentionDays');
  });
});

/** A child resource (declared with `parent:`), exactly one. */
function declaredChild(prefix: string): SyntaxNode {
  const found = resourcesOfType(prefix).filter((r) => ownProperty(r.body, 'parent') !== undefined);
  expect(found, prefix).toHaveLength(1);
  const [only] = found;
  if (!only) throw new Error(prefix);
  return only.body;
}

describe('identity and roles', () => {
  const roleGuids = {
    'Storage Blob Data Owner': 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
    'Storage Queue Data Contributor': '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
    'Monitoring Metrics Publisher': '3913510d-42f4-4e42-8a64-420c390055eb',
    'Storage Queue Data Message Sender': 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a',
  };

  it.each(Object.entries(roleGuids))('assigns %s by its built-in GUID', (_role, guid) => {
    const holders = files.filter((f) => f.text.includes(`'${guid}'`));
    expect(holders.length).toBeGreaterThan(0);
  });

  it('assigns roles to service principals with deterministic names and subscription-level role ids', () => {
    const assignments = resourcesOfType('Microsoft.Authorization/roleAssignments');
    expect(assignments.length).toBeGreaterThanOrEqual(4);
    for (const { body } of assignments) {
      expect(text(body, 'name')).toMatch(/^guid\(/);
      expect(text(body, 'properties', 'roleDefinitionId')).toMatch(
        /^subscriptionResourceId\('Microsoft\.Authorization\/roleDefinitions'/,
      );
      expect(path(body, 'properties', 'principalType')).toBeDefined();
    }
  });

  it('grants no table role unless a table service is configured', () => {
    const tableRole = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3';
    const usesTables = files.some((f) => f.text.includes('tableServiceUri'));
    const assignsTableRole = files.some((f) => new RegExp(`^[^/]*'${tableRole}'`, 'm').test(f.text));
    expect(assignsTableRole).toBe(usesTables);
  });

  it("gives the deployer data access to the CRM data's storage only when asked for (off by default)", () => {
    const main = file('infra/main.bicep');
    expect(paramDefault(main, 'deployerDataAccess')).toBe("'false'");
    const resourcesModule = modules(main).find((m) => m.source === 'resources.bicep');
    expect(resourcesModule?.body && text(resourcesModule.body, 'params', 'deployerPrincipalId')).toBe(
      "deployerDataAccess == 'true' ? principalId : ''",
    );
    const parameters = JSON.parse(readFileSync(join(repoRoot, 'infra', 'main.parameters.json'), 'utf8')) as {
      parameters: Record<string, { value: unknown }>;
    };
    expect(parameters.parameters.deployerDataAccess?.value).toBe('${DEPLOYER_DATA_ACCESS=false}');
  });

  it('runs the app as user-assigned identities', () => {
    const app = declared('Microsoft.Web/sites');
    expect(text(app, 'identity', 'type')).toBe('UserAssigned');
    expect(resourcesOfType('Microsoft.ManagedIdentity/userAssignedIdentities')).toHaveLength(1);
  });
});

describe('monitoring', () => {
  it('turns local (key) auth off for Application Insights and Log Analytics', () => {
    expect(text(declared('Microsoft.Insights/components'), 'properties', 'DisableLocalAuth')).toBe('true');
    expect(
      text(
        declared('Microsoft.OperationalInsights/workspaces'),
        'properties',
        'features',
        'disableLocalAuth',
      ),
    ).toBe('true');
  });
});

describe('function app', () => {
  const app = declared('Microsoft.Web/sites');
  const settings = appSettings(app).map((s) => s.name);

  it('turns basic publishing credentials (SCM and FTP user names and passwords) off', () => {
    const policies = resourcesOfType('Microsoft.Web/sites/basicPublishingCredentialsPolicies');
    expect(
      policies.map(({ body }) => [text(body, 'name'), text(body, 'properties', 'allow')]).sort(),
    ).toEqual([
      ['ftp', 'false'],
      ['scm', 'false'],
    ]);
  });

  it('runs on a Flex Consumption plan with Node 22', () => {
    const plan = declared('Microsoft.Web/serverfarms');
    expect(text(plan, 'sku', 'tier')).toBe('FlexConsumption');
    expect(text(plan, 'sku', 'name')).toBe('FC1');
    expect(text(app, 'properties', 'functionAppConfig', 'runtime', 'name')).toBe('node');
    expect(text(app, 'properties', 'functionAppConfig', 'runtime', 'version')).toBe('22');
    expect(text(app, 'properties', 'httpsOnly')).toBe('true');
  });

  it('takes instance memory and maximum instances from parameters', () => {
    const scale = path(app, 'properties', 'functionAppConfig', 'scaleAndConcurrency');
    expect(scale && ownProperty(scale, 'instanceMemoryMB')?.type).toBe('identifier');
    expect(scale && ownProperty(scale, 'maximumInstanceCount')?.type).toBe('identifier');
  });

  it('pulls its package from blob storage with the user-assigned identity', () => {
    const storage = path(app, 'properties', 'functionAppConfig', 'deployment', 'storage');
    expect(storage && text(storage, 'type')).toBe('blobContainer');
    expect(storage && text(storage, 'authentication', 'type')).toBe('UserAssignedIdentity');
  });

  it('connects to storage and Application Insights with identities, never keys', () => {
    for (const prefix of ['AzureWebJobsStorage', 'Storage']) {
      for (const suffix of ['credential', 'clientId', 'blobServiceUri', 'queueServiceUri']) {
        expect(settings).toContain(`${prefix}__${suffix}`);
      }
    }
    expect(settings).toContain('APPLICATIONINSIGHTS_AUTHENTICATION_STRING');
    expect(settings).not.toContain('AzureWebJobsStorage');
    expect(settings).not.toContain('Storage');
    for (const f of files) {
      expect(f.text, f.path).not.toMatch(/AccountKey=|listKeys\(|primaryKey|InstrumentationKey=/);
    }
    const credentials = appSettings(app)
      .filter((s) => s.name.endsWith('__credential'))
      .map((s) => s.value);
    expect(credentials).toEqual(['managedidentity', 'managedidentity']);
  });

  it("keeps the fleet within Dataverse's 52 concurrent requests per user through shares, not a static split", () => {
    const resourcesFile = file('infra/resources.bicep');
    const limit = Number(variable(resourcesFile, 'concurrencyPerUserLimit')?.text);
    expect(limit).toBe(52);
    // The default cap per instance is the client's 16, no more than the limit ...
    expect(variable(resourcesFile, 'sharedConcurrency')?.text).toBe('min(16, concurrencyPerUserLimit)');
    expect(variable(resourcesFile, 'effectiveConcurrency')?.text).toBe(
      'dataverseMaxConcurrency > 0 ? dataverseMaxConcurrency : sharedConcurrency',
    );
    // ... because each instance takes only its share of it from the fleet board, which the app turns on.
    const settings = new Map(appSettings(declared('Microsoft.Web/sites')).map((s) => [s.name, s.value]));
    expect(settings.get('DATAVERSE_FLEET_SHARING')).toBe('true');
    expect(settings.get('DATAVERSE_FLEET_PACING')).toBe('burst');
    expect(settings.get('DATAVERSE_MAX_CONCURRENCY')).toBe('string(dataverseMaxConcurrency)');
    expect(paramDefault(file('infra/main.bicep'), 'dataverseMaxConcurrency')).toBe('0');
  });
});

describe('Event Grid', () => {
  const subscription = declaredChild('Microsoft.EventGrid/systemTopics/eventSubscriptions');

  it('sends BlobCreated under incoming/ to the import-events queue with the topic identity', () => {
    const filter = path(subscription, 'properties', 'filter');
    expect(filter && stringArray(ownProperty(filter, 'includedEventTypes'))).toEqual([
      'Microsoft.Storage.BlobCreated',
    ]);
    expect(filter && text(filter, 'subjectBeginsWith')).toBe('/blobServices/default/containers/incoming/');
    const delivery = path(subscription, 'properties', 'deliveryWithResourceIdentity');
    expect(delivery && text(delivery, 'identity', 'type')).toBe('SystemAssigned');
    expect(delivery && text(delivery, 'destination', 'endpointType')).toBe('StorageQueue');
    const topic = declared('Microsoft.EventGrid/systemTopics');
    expect(text(topic, 'identity', 'type')).toBe('SystemAssigned');
    expect(text(topic, 'properties', 'topicType')).toBe('Microsoft.Storage.StorageAccounts');
  });

  it('dead-letters undeliverable events to a blob container with the topic identity, which may write there', () => {
    const deadLetter = path(subscription, 'properties', 'deadLetterWithResourceIdentity');
    expect(deadLetter && text(deadLetter, 'identity', 'type')).toBe('SystemAssigned');
    expect(deadLetter && text(deadLetter, 'deadLetterDestination', 'endpointType')).toBe('StorageBlob');
    expect(deadLetter && text(deadLetter, 'deadLetterDestination', 'properties', 'blobContainerName')).toBe(
      'deadLetterContainerName',
    );
    expect(
      propertyValues(file('infra/resources.bicep').root, 'deadLetterContainerName').map((n) => n.text),
    ).toEqual(['storage.outputs.deadLetterContainerName']);
    const storage = file('infra/modules/storage.bicep');
    expect(literalString(variable(storage, 'deadLetterContainerName')!)).toBe('event-deadletter');
    // Dead-lettered events name the files (and so may carry personal data): they expire like results.
    expect(variable(storage, 'retainedContainers')?.text).toContain('deadLetterContainerName');
    const eventgrid = file('infra/modules/eventgrid.bicep');
    // Storage Blob Data Contributor, on the dead-letter container only, for the topic's identity.
    expect(literalString(variable(eventgrid, 'blobDataContributorRoleId')!)).toBe(
      'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
    );
    const grant = resources(eventgrid).find((r) => r.symbol === 'topicWritesDeadLetters');
    expect(grant && text(grant.body, 'scope')).toBe('storage::blobService::deadLetters');
    expect(grant && text(grant.body, 'properties', 'principalId')).toBe('topic.identity.principalId');
  });

  it('delivers to the queue named in the storage module', () => {
    const queue = propertyValues(file('infra/resources.bicep').root, 'queueName').map((n) => n.text);
    expect(queue).toEqual(['storage.outputs.importEventsQueueName']);
    expect(file('infra/modules/storage.bicep').text).toMatch(
      /output importEventsQueueName string = queueNames\[0\]/,
    );
    expect(stringArray(variable(file('infra/modules/storage.bicep'), 'queueNames'))[0]).toBe('import-events');
  });
});

describe('host.json', () => {
  const host = JSON.parse(readFileSync(join(repoRoot, 'host.json'), 'utf8')) as {
    version?: string;
    extensionBundle?: { id?: string; version?: string };
  };

  it('uses extension bundle 4.x, which Flex Consumption needs for Node', () => {
    expect(host.version).toBe('2.0');
    expect(host.extensionBundle?.id).toBe('Microsoft.Azure.Functions.ExtensionBundle');
    expect(host.extensionBundle?.version).toMatch(/^\[4(\.\*|\.0\.0)?, ?5\.0\.0\)$/);
  });
});
