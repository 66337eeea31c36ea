import { LambdaFunction } from '@cdktf/provider-aws/lib/lambda-function/index.js';
import { LambdaPermission } from '@cdktf/provider-aws/lib/lambda-permission/index.js';
import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket/index.js';
import { S3BucketNotification } from '@cdktf/provider-aws/lib/s3-bucket-notification/index.js';
import { Construct } from 'constructs';

export interface BucketTriggerProps {
  /** The bucket whose events invoke the function. */
  readonly bucket: S3Bucket;
  /** The function invoked (asynchronously) for each matching object. */
  readonly target: LambdaFunction;
  /** Account that owns the bucket; without it any account's bucket of that name could invoke the function. */
  readonly sourceAccount: string;
  /**
   * @default ['s3:ObjectCreated:*']
   */
  readonly events?: readonly string[];
  /**
   * Only keys starting with this invoke the function.
   * @default - every key
   */
  readonly filterPrefix?: string;
  /**
   * Only keys ending with this invoke the function.
   * @default - every key
   */
  readonly filterSuffix?: string;
}

/**
 * S3 → Lambda: the resource policy letting the bucket invoke the function, and
 * the bucket notification. The notification waits for the permission because
 * S3 test-invokes the target when the configuration is saved and rejects it if
 * the call is denied.
 *
 * A bucket has exactly one notification configuration, so there is one
 * trigger per bucket, and both resources take the bucket's logical id
 * (`aws_s3_bucket_notification.<bucket>`, `aws_lambda_permission.<bucket>`).
 */
export class BucketTrigger extends Construct {
  readonly notification: S3BucketNotification;
  readonly permission: LambdaPermission;

  constructor(scope: Construct, id: string, props: BucketTriggerProps) {
    super(scope, id);
    const events = props.events ?? ['s3:ObjectCreated:*'];
    const logicalId = props.bucket.friendlyUniqueId;

    this.permission = new LambdaPermission(this, 'permission', {
      statementId: 'AllowInvokeFromBucket',
      action: 'lambda:InvokeFunction',
      functionName: props.target.functionName,
      principal: 's3.amazonaws.com',
      sourceArn: props.bucket.arn,
      sourceAccount: props.sourceAccount,
    });
    this.permission.overrideLogicalId(logicalId);

    this.notification = new S3BucketNotification(this, 'notification', {
      bucket: props.bucket.id,
      lambdaFunction: [
        {
          lambdaFunctionArn: props.target.arn,
          events: [...events],
          filterPrefix: props.filterPrefix,
          filterSuffix: props.filterSuffix,
        },
      ],
      dependsOn: [this.permission],
    });
    this.notification.overrideLogicalId(logicalId);
  }
}
