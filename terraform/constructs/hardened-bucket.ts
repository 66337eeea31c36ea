import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document/index.js';
import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket/index.js';
import { S3BucketLifecycleConfiguration } from '@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration/index.js';
import { S3BucketOwnershipControls } from '@cdktf/provider-aws/lib/s3-bucket-ownership-controls/index.js';
import { S3BucketPolicy } from '@cdktf/provider-aws/lib/s3-bucket-policy/index.js';
import { S3BucketPublicAccessBlock } from '@cdktf/provider-aws/lib/s3-bucket-public-access-block/index.js';
import { S3BucketServerSideEncryptionConfigurationA } from '@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration/index.js';
import type { IResolvable } from 'cdktf';
import { Construct } from 'constructs';

export interface HardenedBucketProps {
  /** Start of the bucket name; S3 appends a unique suffix, so no name has to be chosen. At most 37 characters. */
  readonly bucketPrefix: string;
  /**
   * Whether `destroy` empties the bucket instead of failing on objects.
   * @default false
   */
  readonly forceDestroy?: boolean | IResolvable;
  /**
   * Days after which every object expires; also aborts incomplete multipart uploads after one day.
   * @default - objects are kept until deleted
   */
  readonly expireObjectsAfterDays?: number;
}

/**
 * A private bucket: all public access blocked, ACLs disabled (owner enforced),
 * SSE-S3 encryption, and a policy refusing plain-HTTP requests.
 *
 * The construct id becomes the Terraform logical id of every resource in it
 * (`aws_s3_bucket.<id>`, `aws_s3_bucket_policy.<id>`, ...), so addresses stay
 * stable when the construct tree changes, and the local runner can find them.
 */
export class HardenedBucket extends Construct {
  readonly bucket: S3Bucket;

  constructor(scope: Construct, id: string, props: HardenedBucketProps) {
    super(scope, id);
    const forceDestroy = props.forceDestroy ?? false;

    this.bucket = new S3Bucket(this, 'bucket', { bucketPrefix: props.bucketPrefix, forceDestroy });
    this.bucket.overrideLogicalId(id);

    const publicAccessBlock = new S3BucketPublicAccessBlock(this, 'public-access-block', {
      bucket: this.bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    publicAccessBlock.overrideLogicalId(id);

    new S3BucketOwnershipControls(this, 'ownership-controls', {
      bucket: this.bucket.id,
      rule: { objectOwnership: 'BucketOwnerEnforced' },
    }).overrideLogicalId(id);

    new S3BucketServerSideEncryptionConfigurationA(this, 'encryption', {
      bucket: this.bucket.id,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' } }],
    }).overrideLogicalId(id);

    const tlsOnly = new DataAwsIamPolicyDocument(this, 'tls-only', {
      statement: [
        {
          sid: 'DenyInsecureTransport',
          effect: 'Deny',
          principals: [{ type: '*', identifiers: ['*'] }],
          actions: ['s3:*'],
          resources: [this.bucket.arn, `${this.bucket.arn}/*`],
          condition: [{ test: 'Bool', variable: 'aws:SecureTransport', values: ['false'] }],
        },
      ],
    });
    tlsOnly.overrideLogicalId(`${id}_bucket_policy`);

    new S3BucketPolicy(this, 'policy', {
      bucket: this.bucket.id,
      policy: tlsOnly.json,
      // S3 rejects concurrent policy and public-access-block changes on one bucket (OperationAborted).
      dependsOn: [publicAccessBlock],
    }).overrideLogicalId(id);

    if (props.expireObjectsAfterDays !== undefined) {
      new S3BucketLifecycleConfiguration(this, 'lifecycle', {
        bucket: this.bucket.id,
        rule: [
          {
            id: 'expire-objects',
            status: 'Enabled',
            filter: [{ prefix: '' }],
            expiration: [{ days: props.expireObjectsAfterDays }],
            abortIncompleteMultipartUpload: [{ daysAfterInitiation: 1 }],
          },
        ],
      }).overrideLogicalId(id);
    }
  }
}
