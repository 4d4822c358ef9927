// The product's storage account: host storage (AzureWebJobsStorage), the `Storage` connection the
// functions bind to, and the Flex Consumption deployment container. Identity-only access.

@description('Storage account name (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param name string

param location string
param tags object = {}

@description('Container that holds the Flex Consumption deployment package.')
param deploymentContainerName string

@description('Days after which run state (runs/), results and extracts are deleted. They hold personal data copied from the CRM.')
@minValue(1)
param retentionDays int

@description('Days after which input CSVs in incoming/ are deleted; 0 keeps them.')
@minValue(0)
param incomingRetentionDays int

@description('Days a deleted blob or container can still be restored; 0 (the default) turns soft delete off. A soft-deleted blob is a copy of CRM data that outlives its deletion, so with soft delete on, the lifecycle rules delete that many days earlier to keep retentionDays true.')
@minValue(0)
@maxValue(365)
param softDeleteDays int = 0

// The product's own containers; the host creates azure-webjobs-* itself.
var dataContainers = ['incoming', 'runs', 'results', 'extracts', 'jobs']
// Event Grid puts the BlobCreated events it could not deliver here (eventgrid.bicep).
var deadLetterContainerName = 'event-deadletter'
var queueNames = ['import-events', 'import-chunks']

// Containers whose blobs are copies of CRM data (or name its files) and must not outlive the retention period.
var retainedContainers = ['runs', 'results', 'extracts', deadLetterContainerName]

// A blob deleted by a rule stays restorable for softDeleteDays: the rules act that much earlier.
var expireAfterDays = max(1, retentionDays - softDeleteDays)
var expireIncomingAfterDays = max(1, incomingRetentionDays - softDeleteDays)
var softDelete = softDeleteDays > 0 ? { enabled: true, days: softDeleteDays } : { enabled: false }

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      // Event Grid and the Functions platform reach the account as trusted Azure services.
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: softDelete
    containerDeleteRetentionPolicy: softDelete
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for containerName in concat(dataContainers, [deadLetterContainerName, deploymentContainerName]): {
    parent: blobService
    name: containerName
    properties: { publicAccess: 'None' }
  }
]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queueName in queueNames: {
    parent: queueService
    name: queueName
  }
]

var retentionRule = {
  name: 'expire-run-data'
  enabled: true
  type: 'Lifecycle'
  definition: {
    filters: {
      blobTypes: ['blockBlob', 'appendBlob']
      prefixMatch: map(retainedContainers, c => '${c}/')
    }
    actions: {
      baseBlob: { delete: { daysAfterModificationGreaterThan: expireAfterDays } }
      snapshot: { delete: { daysAfterCreationGreaterThan: expireAfterDays } }
    }
  }
}

var incomingRule = {
  name: 'expire-incoming'
  enabled: true
  type: 'Lifecycle'
  definition: {
    filters: {
      blobTypes: ['blockBlob']
      prefixMatch: ['incoming/']
    }
    actions: {
      baseBlob: { delete: { daysAfterModificationGreaterThan: expireIncomingAfterDays } }
    }
  }
}

resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: concat([retentionRule], incomingRetentionDays > 0 ? [incomingRule] : [])
    }
  }
  // Rules name containers by prefix; create them first so the policy reads as intended in the portal.
  dependsOn: [containers]
}

output name string = account.name
output id string = account.id
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output deploymentContainerUrl string = '${account.properties.primaryEndpoints.blob}${deploymentContainerName}'
output importEventsQueueName string = queueNames[0]
output deadLetterContainerName string = deadLetterContainerName
