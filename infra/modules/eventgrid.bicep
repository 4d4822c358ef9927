// BlobCreated under incoming/ -> the import-events storage queue, which the importBlob function
// reads with an ordinary queue trigger. Queue delivery needs no webhook key, so the subscription can
// be created with the rest of the infrastructure, before any code is deployed.

param storageAccountName string
param location string
param tags object = {}
param systemTopicName string

@description('Queue the events are delivered to.')
param queueName string

@description('Only blobs whose names end with this suffix start an import (case-insensitive); empty: every blob.')
param blobSuffix string = '.csv'

@description('How long an undelivered event message stays in the queue, in seconds (-1: until read).')
param queueMessageTimeToLiveInSeconds int = 604800

// Built-in role: Storage Queue Data Message Sender (send only; no read or delete).
var queueMessageSenderRoleId = 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName

  resource queueService 'queueServices' existing = {
    name: 'default'

    resource queue 'queues' existing = {
      name: queueName
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
  // Delivery is checked against the role at send time; create the subscription after the grant.
  dependsOn: [topicSendsToQueue]
}

output systemTopicName string = topic.name
output subscriptionName string = subscription.name
