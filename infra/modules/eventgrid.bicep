// BlobCreated under incoming/ -> the import-events storage queue, which the importBlob function
// reads with an ordinary queue trigger. Queue delivery needs no webhook key, so the subscription can
// be created with the rest of the infrastructure, before any code is deployed.

param storageAccountName string
param location string
param tags object = {}
param systemTopicName string

@description('Queue the events are delivered to.')
param queueName string

@description('Blob container that receives the events Event Grid gives up on (after 30 attempts or 24 hours).')
param deadLetterContainerName string

@description('Only blobs whose names end with this suffix start an import (case-insensitive); empty: every blob.')
param blobSuffix string = '.csv'

@description('How long an undelivered event message stays in the queue, in seconds (-1: until read).')
param queueMessageTimeToLiveInSeconds int = 604800

// Built-in role: Storage Queue Data Message Sender (send only; no read or delete).
var queueMessageSenderRoleId = 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
// Built-in role: Storage Blob Data Contributor, for writing dead-lettered events.
var blobDataContributorRoleId = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName

  resource queueService 'queueServices' existing = {
    name: 'default'

    resource queue 'queues' existing = {
      name: queueName
    }
  }

  resource blobService 'blobServices' existing = {
    name: 'default'

    resource deadLetters 'containers' existing = {
      name: deadLetterContainerName
    }
  }
}

// The topic's own system-assigned identity delivers the events: it lives and dies with the topic,
// and its only right is to send messages to this one queue.
resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: systemTopicName
  location: location
  tags: tags
  identity: { type: 'SystemAssigned' }
  properties: {
    source: storage.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

resource topicSendsToQueue 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::queueService::queue.id, topic.id, queueMessageSenderRoleId)
  scope: storage::queueService::queue
  properties: {
    principalId: topic.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', queueMessageSenderRoleId)
  }
}

// An event Event Grid cannot deliver is written to a blob rather than dropped: a trace for the operator,
// while the reconciliation sweep (functions/reconcileIncoming.ts) starts the file itself.
resource topicWritesDeadLetters 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::deadLetters.id, topic.id, blobDataContributorRoleId)
  scope: storage::blobService::deadLetters
  properties: {
    principalId: topic.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributorRoleId)
  }
}

resource subscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: topic
  name: 'incoming-blob-created'
  properties: {
    deliveryWithResourceIdentity: {
      identity: { type: 'SystemAssigned' }
      destination: {
        endpointType: 'StorageQueue'
        properties: {
          resourceId: storage.id
          queueName: queueName
          queueMessageTimeToLiveInSeconds: queueMessageTimeToLiveInSeconds
        }
      }
    }
    deadLetterWithResourceIdentity: {
      identity: { type: 'SystemAssigned' }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: storage.id
          blobContainerName: deadLetterContainerName
        }
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: ['Microsoft.Storage.BlobCreated']
      subjectBeginsWith: '/blobServices/default/containers/incoming/'
      subjectEndsWith: blobSuffix
      isSubjectCaseSensitive: false
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
  // Delivery is checked against the roles at send time; create the subscription after the grants.
  dependsOn: [topicSendsToQueue, topicWritesDeadLetters]
}

output systemTopicName string = topic.name
output subscriptionName string = subscription.name
