import {
  CloudWatchLogsClient,
  FilterLogEventsCommand,
  type CloudWatchLogsClientConfig,
} from '@aws-sdk/client-cloudwatch-logs';
import type { LogEventsPort } from './cloudwatch.ts';

/**
 * FilterLogEvents through the AWS SDK. Credentials and region come from its
 * default chain (IRSA, EKS Pod Identity, AWS_REGION, …); AWS_ENDPOINT_URL_CLOUDWATCH_LOGS
 * points it elsewhere. Its standard retry strategy retries throttling and 5xx
 * with exponential backoff and jitter, before the source's own backoff.
 */
export async function cloudWatchLogsPort(
  config: CloudWatchLogsClientConfig = {},
): Promise<LogEventsPort> {
  const client = new CloudWatchLogsClient({ maxAttempts: 6, ...config });
  // Fails now, with what to set, rather than at every poll.
  try {
    await client.config.region();
  } catch {
    throw new Error(
      'the CloudWatch Logs audit source needs a region: set AWS_REGION (the chart: activity.cloudWatchLogs.region)',
    );
  }
  return {
    async filter(req) {
      const out = await client.send(new FilterLogEventsCommand(req));
      return {
        events: (out.events ?? []).map((e) => ({
          eventId: e.eventId ?? '',
          timestamp: e.timestamp ?? 0,
          logStreamName: e.logStreamName ?? '',
          message: e.message ?? '',
        })),
        ...(out.nextToken ? { nextToken: out.nextToken } : {}),
      };
    },
  };
}
