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
