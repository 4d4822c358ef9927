// User-assigned identities. The first one is the app's own identity (storage, telemetry, Dataverse);
// each one is registered as its own Dataverse application user, so every extra identity adds one
// more user's worth of Dataverse service-protection budget.

param namePrefix string
param location string
param tags object = {}

@description('How many identities to create; each becomes one Dataverse application user.')
@minValue(1)
@maxValue(20)
param count int

resource identities 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = [
  for i in range(0, count): {
    name: '${namePrefix}-${i + 1}'
    location: location
    tags: tags
  }
]

output ids array = [for i in range(0, count): identities[i].id]
output clientIds array = [for i in range(0, count): identities[i].properties.clientId]
output principalIds array = [for i in range(0, count): identities[i].properties.principalId]
output names array = [for i in range(0, count): identities[i].name]
