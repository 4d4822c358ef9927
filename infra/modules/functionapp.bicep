// Flex Consumption plan + the function app. Every connection is identity-based: the app's first
// user-assigned identity reads storage and sends telemetry; all identities call Dataverse.

param planName string
param appName string
param location string
param tags object = {}

@description('Resource ids of the user-assigned identities; the first is the app identity.')
@minLength(1)
param identityIds array

@description('Client ids matching identityIds, in the same order.')
@minLength(1)
param identityClientIds array

param storageBlobEndpoint string
param storageQueueEndpoint string
param deploymentContainerUrl string
param appInsightsConnectionString string

@allowed([512, 2048, 4096])
param instanceMemoryMB int

@minValue(1)
@maxValue(1000)
param maximumInstanceCount int

@description('Settings the product code reads (src/config/settings.ts), already resolved by the caller.')
param dataverseUrl string
param dataverseMaxConcurrency int
param dataverseBulkSize int
param importChunkSize int
param nightlyExtractSchedule string
param reconcileSchedule string
param reconcileAfterMinutes int
param importBlobSuffix string
param extractJobs string
param logCellValues bool

var appIdentityId = identityIds[0]
var appClientId = identityClientIds[0]
// Storage service URIs without the trailing slash the endpoints carry.
var blobServiceUri = substring(storageBlobEndpoint, 0, length(storageBlobEndpoint) - 1)
var queueServiceUri = substring(storageQueueEndpoint, 0, length(storageQueueEndpoint) - 1)

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  // azd finds the app to deploy `services.api` to by this tag.
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: toObject(identityIds, id => id, id => {})
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      appSettings: [
        // Host storage, identity-based (no AzureWebJobsStorage connection string).
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'AzureWebJobsStorage__clientId', value: appClientId }
        { name: 'AzureWebJobsStorage__blobServiceUri', value: blobServiceUri }
        { name: 'AzureWebJobsStorage__queueServiceUri', value: queueServiceUri }
        // The product's `Storage` connection (queue triggers, blob reads and writes).
        { name: 'STORAGE_CONNECTION', value: 'Storage' }
        { name: 'Storage__credential', value: 'managedidentity' }
        { name: 'Storage__clientId', value: appClientId }
        { name: 'Storage__blobServiceUri', value: blobServiceUri }
        { name: 'Storage__queueServiceUri', value: queueServiceUri }
        // Telemetry with Entra auth; the component has local auth off.
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${appClientId};Authorization=AAD' }
        // Dataverse: one application user per identity.
        { name: 'DATAVERSE_URL', value: dataverseUrl }
        { name: 'DATAVERSE_CLIENT_IDS', value: join(identityClientIds, ',') }
        { name: 'DATAVERSE_MAX_CONCURRENCY', value: string(dataverseMaxConcurrency) }
        { name: 'DATAVERSE_BULK_SIZE', value: string(dataverseBulkSize) }
        // Instances share each identity's window through a board in the storage account (docs/architecture.md).
        { name: 'DATAVERSE_FLEET_SHARING', value: 'true' }
        { name: 'DATAVERSE_FLEET_REFRESH_MS', value: '5000' }
        // burst: a fresh window's budget goes as fast as the server takes it; steady: each instance paces at its
        // part of the sustained rate, with no 429 storm at the window's end (docs/deploy.md, "Scaling").
        { name: 'DATAVERSE_FLEET_PACING', value: 'burst' }
        // The Node worker's heap cap. V8 collects lazily while memory is plentiful: uncapped, one instance
        // writing 5 identities' chunks peaked at 655-695 MB of resident memory; capped at 256 MB it did the
        // same work at 351 MB (BENCHMARKS.md, "Fleet"). 512 MB on the 2,048 and 4,096 MB instances (as the
        // CLI), 256 MB on 512 MB ones.
        { name: 'languageWorkers__node__arguments', value: '--max-old-space-size=${instanceMemoryMB >= 2048 ? 512 : 256}' }
        // Jobs.
        { name: 'IMPORT_CHUNK_SIZE', value: string(importChunkSize) }
        { name: 'NIGHTLY_EXTRACT_SCHEDULE', value: nightlyExtractSchedule }
        { name: 'RECONCILE_SCHEDULE', value: reconcileSchedule }
        { name: 'RECONCILE_AFTER_MINUTES', value: string(reconcileAfterMinutes) }
        { name: 'IMPORT_BLOB_SUFFIX', value: importBlobSuffix }
        { name: 'EXTRACT_JOBS', value: extractJobs }
        // Spelled out: string(bool) gives 'True', which settings.ts rejects.
        { name: 'LOG_CELL_VALUES', value: logCellValues ? 'true' : 'false' }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: appIdentityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: { name: 'node', version: '22' }
    }
  }
}

// Deployments sign in with Entra (azd, az functionapp deploy); the publishing profile's user name and
// password for SCM and FTP stay off, so no deployment secret exists to leak.
resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  properties: { allow: false }
}

resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  properties: { allow: false }
}

output name string = app.name
output defaultHostName string = app.properties.defaultHostName
