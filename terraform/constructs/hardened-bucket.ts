import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document/index.js';
import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket/index.js';
import { S3BucketLifecycleConfiguration, type S3BucketLifecycleConfigurationRule } from '@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration/index.js';
import { S3BucketOwnershipControls } from '@cdktf/provider-aws/lib/s3-bucket-ownership-controls/index.js';
import { S3BucketPolicy } from '@cdktf/provider-aws/lib/s3-bucket-policy/index.js';
import { S3BucketPublicAccessBlock } from '@cdktf/provider-aws/lib/s3-bucket-public-access-block/index.js';
import { S3BucketServerSideEncryptionConfigurationA } from '@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration/index.js';
import { S3BucketVersioningA } from '@cdktf/provider-aws/lib/s3-bucket-versioning/index.js';
import { Fn, type IResolvable, Op, Token } from 'cdktf';
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
   * Days after which every object expires (a number or a `var.*` token).
   * @default - objects are kept until deleted
   */
  readonly expireObjectsAfterDays?: number;
  /**
   * Whether S3 keeps the earlier versions of overwritten and deleted objects, so
   * they can be recovered (for `noncurrentVersionExpirationDays`). A plain
   * DeleteObject then only adds a delete marker; removing a version for good
   * needs `s3:DeleteObjectVersion`.
   * @default false
   */
  readonly versioned?: boolean;
  /**
   * With `versioned`: days an overwritten or deleted object's earlier version is
   * kept before it expires (a number or a `var.*` token). Delete markers left
   * with no versions behind them are removed too.
   * @default 30
   */
  readonly noncurrentVersionExpirationDays?: number;
  /**
   * Days after which an unfinished multipart upload is aborted and its parts
   * deleted; they are invisible in listings but billed. Applies whenever the
   * bucket has a lifecycle configuration (`expireObjectsAfterDays` or `versioned`).
   * @default 1
   */
  readonly abortIncompleteMultipartUploadDays?: number;
  /**
   * ARN of a KMS key for SSE-KMS (with an S3 Bucket Key), or a `var.*` token that
   * may be empty: empty selects SSE-S3 when Terraform runs.
   * @default '' (SSE-S3)
   */
  readonly kmsKeyArn?: string;
}

/**
 * A private bucket: all public access blocked, ACLs disabled (owner enforced),
 * default encryption (SSE-S3, or SSE-KMS with a key), and a policy refusing
 * plain-HTTP requests; optionally versioned, and a lifecycle configuration
 * when objects or earlier versions expire.
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

    // One resource for both choices, decided by Terraform from the key ARN, so that
    // setting or clearing kms_key_arn updates the configuration in place.
    const kmsKeyArn = props.kmsKeyArn ?? '';
    // The literal goes first: cdktf renders a falsy right operand as `undefined`.
    const useKms = Op.neq('', kmsKeyArn);
    new S3BucketServerSideEncryptionConfigurationA(this, 'encryption', {
      bucket: this.bucket.id,
      rule: [
        {
          applyServerSideEncryptionByDefault: {
            sseAlgorithm: Token.asString(Fn.conditional(useKms, 'aws:kms', 'AES256')),
            kmsMasterKeyId: Token.asString(Fn.conditional(useKms, kmsKeyArn, Token.nullValue())),
          },
          // A bucket key cuts the KMS requests (and their cost) per object; meaningless for SSE-S3.
          bucketKeyEnabled: useKms,
        },
      ],
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

    const versioned = props.versioned ?? false;
    let versioning: S3BucketVersioningA | undefined;
    if (versioned) {
      versioning = new S3BucketVersioningA(this, 'versioning', {
        bucket: this.bucket.id,
        versioningConfiguration: { status: 'Enabled' },
      });
      versioning.overrideLogicalId(id);
    }

    const abortIncompleteMultipartUpload = [{ daysAfterInitiation: props.abortIncompleteMultipartUploadDays ?? 1 }];
    const rules: S3BucketLifecycleConfigurationRule[] = [];
    if (props.expireObjectsAfterDays !== undefined) {
      rules.push({
        id: 'expire-objects',
        status: 'Enabled',
        filter: [{ prefix: '' }],
        expiration: [{ days: props.expireObjectsAfterDays }],
        abortIncompleteMultipartUpload,
      });
    }
    if (versioned) {
      rules.push({
        id: 'expire-noncurrent-versions',
        status: 'Enabled',
        filter: [{ prefix: '' }],
        noncurrentVersionExpiration: [{ noncurrentDays: props.noncurrentVersionExpirationDays ?? 30 }],
        // A delete marker whose earlier versions have all expired hides nothing any more.
        expiration: [{ expiredObjectDeleteMarker: true }],
        // Once per bucket is enough: a second rule with the same action would only repeat it.
        abortIncompleteMultipartUpload: rules.length === 0 ? abortIncompleteMultipartUpload : undefined,
      });
    }
    if (rules.length > 0) {
      new S3BucketLifecycleConfiguration(this, 'lifecycle', {
        bucket: this.bucket.id,
        rule: rules,
        // S3 refuses noncurrent-version rules until versioning is on (and the provider may create both at once).
        dependsOn: versioning ? [versioning] : undefined,
      }).overrideLogicalId(id);
    }
  }
}
