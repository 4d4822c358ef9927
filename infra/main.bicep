// Entry point for `azd up` and `az deployment sub create`: a resource group and everything in it
// (resources.bicep). Raw resources only, so the templates build with no registry access.
targetScope = 'subscription'

@description('Name of the azd environment; names the resource group and is part of every resource name.')
@minLength(1)
@maxLength(40)
param environmentName string

@description('Region for every resource (one that offers Flex Consumption).')
param location string

@description('Resource group to create or reuse; default rg-<environmentName>.')
param resourceGroupName string = ''

@description('Dataverse environment URL, e.g. https://contoso.crm.dynamics.com')
param dataverseUrl string

@description('Security role the post-provision step gives each application user (a role name in the root business unit).')
param dataverseSecurityRole string

@minValue(1)
@maxValue(20)
param dataverseIdentityCount int = 1

@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 10

@minValue(0)
@maxValue(52)
param dataverseMaxConcurrency int = 0

@minValue(1)
param retentionDays int = 30

@minValue(0)
param incomingRetentionDays int = 30

param nightlyExtractSchedule string = '0 0 2 * * *'
param extractJobs string = ''

@description('Principal id of the deployer (azd sets AZURE_PRINCIPAL_ID); given storage data access only with deployerDataAccess.')
param principalId string = ''

// The storage account holds the CRM data being moved (personal data): the deployer gets blob and queue
// data roles only when asked for (`azd env set DEPLOYER_DATA_ACCESS true`), e.g. in a dev environment
// to upload files and run the smoke test with their own sign-in. Off for production.
@description('Give the deployer (principalId) blob and queue data access to the data storage account: true or false.')
@allowed(['true', 'false'])
param deployerDataAccess string = 'false'

@allowed(['User', 'ServicePrincipal', 'Group'])
param principalType string = 'User'

var tags = { 'azd-env-name': environmentName, application: 'dataverse-pipelines' }

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: empty(resourceGroupName) ? 'rg-${environmentName}' : resourceGroupName
  location: location
  tags: tags
}

module resources 'resources.bicep' = {
  name: 'dataverse-pipelines'
  scope: rg
  params: {
    environmentName: environmentName
    location: location
    tags: tags
    dataverseUrl: dataverseUrl
    dataverseIdentityCount: dataverseIdentityCount
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    dataverseMaxConcurrency: dataverseMaxConcurrency
    retentionDays: retentionDays
    incomingRetentionDays: incomingRetentionDays
    nightlyExtractSchedule: nightlyExtractSchedule
    extractJobs: extractJobs
    deployerPrincipalId: deployerDataAccess == 'true' ? principalId : ''
    deployerPrincipalType: principalType
  }
}

// azd copies these outputs into the environment (.azure/<env>/.env); the post-provision hook reads them.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = resources.outputs.functionAppName
output AZURE_FUNCTION_APP_HOST string = resources.outputs.functionAppHostName
output AZURE_STORAGE_ACCOUNT_NAME string = resources.outputs.storageAccountName
output AZURE_STORAGE_BLOB_ENDPOINT string = resources.outputs.storageBlobEndpoint
output AZURE_STORAGE_QUEUE_ENDPOINT string = resources.outputs.storageQueueEndpoint
output DATAVERSE_URL string = dataverseUrl
output DATAVERSE_CLIENT_IDS string = join(resources.outputs.identityClientIds, ',')
output DATAVERSE_IDENTITY_NAMES string = join(resources.outputs.identityNames, ',')
output DATAVERSE_SECURITY_ROLE string = dataverseSecurityRole
output DATAVERSE_MAX_CONCURRENCY int = resources.outputs.dataverseMaxConcurrency
