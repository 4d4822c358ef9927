// Everything the product needs in one resource group. Deploy it directly with
// `az deployment group create`, or through main.bicep (subscription scope, what azd uses).

@description('Short name of the environment (dev, test, prod...): part of every resource name.')
@minLength(1)
@maxLength(40)
param environmentName string = 'dvpipe'

param location string = resourceGroup().location
param tags object = {}

@description('Dataverse environment URL, e.g. https://contoso.crm.dynamics.com')
param dataverseUrl string

@description('User-assigned identities to register as Dataverse application users. Each adds one user\'s service-protection budget (see docs/deploy.md).')
@minValue(1)
@maxValue(20)
param dataverseIdentityCount int = 1

@description('Flex Consumption instance memory.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Most instances the app scales out to. With the default concurrency below, instances x concurrency stays within Dataverse\'s 52 concurrent requests per user (docs/deploy.md).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 10

@description('Cap of concurrent Dataverse requests per identity per instance, of which each instance takes its share of the fleet board; 0 uses 16, the client default.')
@minValue(0)
@maxValue(52)
param dataverseMaxConcurrency int = 0

@description('Records per bulk request (CreateMultiple / UpdateMultiple / UpsertMultiple).')
@minValue(1)
@maxValue(1000)
param dataverseBulkSize int = 1000

@description('Rows per import chunk (one queue message, one worker invocation).')
@minValue(1)
@maxValue(100000)
param importChunkSize int = 5000

@description('NCRONTAB (six fields, UTC) for the nightly extract timer.')
param nightlyExtractSchedule string = '0 0 2 * * *'

@description('NCRONTAB (six fields, UTC) of the sweep that starts files whose event never came and resumes stalled runs.')
param reconcileSchedule string = '0 */10 * * * *'

@description('Minutes a file may wait for its event before the sweep starts it (a run silent for 4x as long is resumed).')
@minValue(1)
@maxValue(1440)
param reconcileAfterMinutes int = 15

@description('Extract jobs the nightly timer runs, comma-separated; empty: all of them.')
param extractJobs string = ''

@description('Log cell values (personal data). Only for debugging.')
param logCellValues bool = false

@description('Days before run state, results and extracts are deleted.')
@minValue(1)
param retentionDays int = 30

@description('Days before input CSVs in incoming/ are deleted; 0 keeps them.')
@minValue(0)
param incomingRetentionDays int = 30

@description('Optional: principal id of the deployer, given blob and queue data access (for the dvpipe CLI and smoke tests).')
param deployerPrincipalId string = ''

@allowed(['User', 'ServicePrincipal', 'Group'])
param deployerPrincipalType string = 'User'

// Dataverse allows each user 52 concurrent requests (per web server). The app's instances share each
// identity's window through the fleet board (DATAVERSE_FLEET_SHARING, set in functionapp.bicep): each runs
// its share of the cap, so the shares keep the fleet within the window, and one busy instance alone may
// use all of it. A static split (52 / maximumInstanceCount) would hold that instance to a tenth of it.
// 16 is the client's own default, at which the fleet figures in BENCHMARKS.md were measured.
var concurrencyPerUserLimit = 52
var sharedConcurrency = min(16, concurrencyPerUserLimit)
var effectiveConcurrency = dataverseMaxConcurrency > 0 ? dataverseMaxConcurrency : sharedConcurrency

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var baseName = 'dvpipe-${resourceToken}'
var allTags = union(tags, { 'azd-env-name': environmentName })
// Files that start an import: the Event Grid filter and the reconciliation sweep use the same suffix.
var importBlobSuffix = '.csv'

module identities 'modules/identities.bicep' = {
  name: 'identities'
  params: {
    namePrefix: 'id-${baseName}'
    location: location
    tags: allTags
    count: dataverseIdentityCount
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: take('st${replace(baseName, '-', '')}', 24)
    location: location
    tags: allTags
    deploymentContainerName: 'app-package'
    retentionDays: retentionDays
    incomingRetentionDays: incomingRetentionDays
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: 'log-${baseName}'
    appInsightsName: 'appi-${baseName}'
    location: location
    tags: allTags
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  params: {
    storageAccountName: storage.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    appPrincipalId: identities.outputs.principalIds[0]
    deployerPrincipalId: deployerPrincipalId
    deployerPrincipalType: deployerPrincipalType
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    planName: 'plan-${baseName}'
    appName: 'func-${baseName}'
    location: location
    tags: allTags
    identityIds: identities.outputs.ids
    identityClientIds: identities.outputs.clientIds
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageQueueEndpoint: storage.outputs.queueEndpoint
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    dataverseUrl: dataverseUrl
    dataverseMaxConcurrency: effectiveConcurrency
    dataverseBulkSize: dataverseBulkSize
    importChunkSize: importChunkSize
    nightlyExtractSchedule: nightlyExtractSchedule
    reconcileSchedule: reconcileSchedule
    reconcileAfterMinutes: reconcileAfterMinutes
    importBlobSuffix: importBlobSuffix
    extractJobs: extractJobs
    logCellValues: logCellValues
  }
  // The host starts reading storage as soon as the site exists; grant access first.
  dependsOn: [rbac]
}

module eventGrid 'modules/eventgrid.bicep' = {
  name: 'eventgrid'
  params: {
    storageAccountName: storage.outputs.name
    location: location
    tags: allTags
    systemTopicName: 'evgt-${baseName}'
    queueName: storage.outputs.importEventsQueueName
    deadLetterContainerName: storage.outputs.deadLetterContainerName
    blobSuffix: importBlobSuffix
  }
}

output functionAppName string = functionApp.outputs.name
output functionAppHostName string = functionApp.outputs.defaultHostName
output storageAccountName string = storage.outputs.name
output storageBlobEndpoint string = storage.outputs.blobEndpoint
output storageQueueEndpoint string = storage.outputs.queueEndpoint
output identityNames array = identities.outputs.names
output identityClientIds array = identities.outputs.clientIds
output dataverseMaxConcurrency int = effectiveConcurrency
