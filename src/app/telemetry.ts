// Application Insights through the Azure Monitor OpenTelemetry distro, when the app has a connection
// string (infra/ sets it, with Entra auth through the app's identity). Only the product's own metrics
// and log records go out: HTTP and Azure SDK auto-instrumentation stay off, because Dataverse request
// URLs carry key values (e-mail addresses, account numbers) and blob names carry file names.
import { ManagedIdentityCredential } from '@azure/identity';
import { useAzureMonitor } from '@azure/monitor-opentelemetry';

let started = false;

/** Starts the distro once per process; false when there is no connection string (local runs, tests). */
export function startTelemetry(env: NodeJS.ProcessEnv = process.env): boolean {
  const connectionString = env.APPLICATIONINSIGHTS_CONNECTION_STRING;
  if (started || !connectionString) return started;
  // `ClientId=<id>;Authorization=AAD`: the identity that may publish (Monitoring Metrics Publisher).
  const auth = env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING ?? '';
  const clientId = /ClientId=([^;]+)/i.exec(auth)?.[1];
  const credential = /Authorization=AAD/i.test(auth)
    ? new ManagedIdentityCredential(clientId ? { clientId } : {})
    : undefined;
  useAzureMonitor({
    azureMonitorExporterOptions: { connectionString, ...(credential ? { credential } : {}) },
    enableLiveMetrics: false,
    instrumentationOptions: {
      http: { enabled: false },
      azureSdk: { enabled: false },
      mongoDb: { enabled: false },
      mySql: { enabled: false },
      postgreSql: { enabled: false },
      redis: { enabled: false },
      redis4: { enabled: false },
      bunyan: { enabled: false },
      winston: { enabled: false },
    },
  });
  started = true;
  return true;
}
