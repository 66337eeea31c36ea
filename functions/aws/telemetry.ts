import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Metrics as MetricNames } from '../core/settings';

/**
 * Powertools' structured logger and CloudWatch metrics (embedded metric format)
 * for one function: the log level comes from the standard variables
 * (POWERTOOLS_LOG_LEVEL / AWS_LAMBDA_LOG_LEVEL), every line carries the Lambda
 * context and the keys a handler appends for the job at hand.
 */
export const createTelemetry = (serviceName: 'prepare' | 'generate') => ({
  logger: new Logger({ serviceName }),
  metrics: new Metrics({ namespace: MetricNames.NAMESPACE, serviceName }),
});

/**
 * Tracing is off unless POWERTOOLS_TRACE_ENABLED is "true" (the stack's tracing_enabled): the
 * X-Ray SDK behind Powertools' tracer costs about 120 ms of cold start, paid only when asked for.
 * Wraps the given SDK clients so each S3 and Bedrock call becomes a subsegment.
 */
export const enableTracing = async (serviceName: 'prepare' | 'generate', clients: readonly object[]): Promise<void> => {
  if (process.env.POWERTOOLS_TRACE_ENABLED !== 'true') return;
  const { Tracer } = await import('@aws-lambda-powertools/tracer');
  const tracer = new Tracer({ serviceName });
  for (const client of clients) tracer.captureAWSv3Client(client);
};
