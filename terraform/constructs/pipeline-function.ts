import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group/index.js';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document/index.js';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role/index.js';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy/index.js';
import { LambdaFunction } from '@cdktf/provider-aws/lib/lambda-function/index.js';
import { AssetType, Fn, type IResolvable, Op, TerraformAsset, Token } from 'cdktf';
import { Construct } from 'constructs';
import { directoryHash } from '../content-hash.js';

/** One Allow statement of a function's role. Actions are never wildcards; resources are as narrow as the data. */
export interface Grant {
  /** Statement id, so a denied call can be traced to the statement that should have allowed it. */
  readonly sid: string;
  readonly actions: readonly string[];
  readonly resources: readonly string[];
  /**
   * Conditions that must all hold for the statement to apply (IAM ANDs them).
   * @default - none: the actions are allowed on the resources whatever the request context
   */
  readonly conditions?: readonly GrantCondition[];
}

/** One condition of a grant: `test` (the IAM operator) of the context key `variable` against any of `values`. */
export interface GrantCondition {
  /** Condition operator, e.g. `StringEquals`, `StringLike`, `ArnLike`. */
  readonly test: string;
  /** Condition context key, e.g. `bedrock:InferenceProfileArn`. */
  readonly variable: string;
  /** The request matches when its value matches any of these. */
  readonly values: readonly string[];
}

export interface PipelineFunctionProps {
  /** Lambda function name; also names its role and log group. */
  readonly functionName: string;
  /** Absolute path of the directory zipped as the function's code (holds the `index` module). */
  readonly codeDir: string;
  /** Memory in MB (a number or a `var.*` token). */
  readonly memorySize: number;
  /** Timeout in seconds (a number or a `var.*` token). */
  readonly timeout: number;
  /** Environment variables; the function reads and checks them once at cold start. */
  readonly environment: Readonly<Record<string, string>>;
  /** What the function may do besides writing its own logs. */
  readonly grants: readonly Grant[];
  /**
   * Layer version ARNs.
   * @default - no layers
   */
  readonly layers?: readonly string[];
  /**
   * @default 'nodejs22.x'
   */
  readonly runtime?: string;
  /**
   * Graviton is cheaper per GB-second and the sharp layer is built for it.
   * @default 'arm64'
   */
  readonly architecture?: 'arm64' | 'x86_64';
  /**
   * @default 'index.handler'
   */
  readonly handler?: string;
  /**
   * Days the log group keeps events (a number or a `var.*` token).
   * @default 30
   */
  readonly logRetentionDays?: number;
  /**
   * A KMS key the buckets the function uses are encrypted with, or a `var.*`
   * token that may be empty. When non-empty (decided by Terraform), the role may
   * `kms:Decrypt` and `kms:GenerateDataKey` with it, only through S3 and only
   * for objects of the buckets named in `bucketArns`.
   * @default - no KMS permissions
   */
  readonly bucketKey?: BucketKeyProps;
  /**
   * Lambda's advanced logging controls: JSON log format into the function's own
   * log group, system logs from WARN, and this application log level (a `var.*`
   * token), which Lambda passes as AWS_LAMBDA_LOG_LEVEL and Powertools Logger
   * obeys before any other setting.
   * @default - the text format, no level filtering
   */
  readonly logLevel?: string;
  /**
   * Whether the function sends traces to X-Ray (a `var.*` token): active tracing,
   * POWERTOOLS_TRACE_ENABLED for the handler, and the X-Ray write statement in the
   * role, which exists only while tracing is on (decided by Terraform).
   * @default - no tracing configuration, no X-Ray permissions
   */
  readonly tracingEnabled?: boolean | IResolvable;
}

export interface BucketKeyProps {
  /** Key ARN, possibly an empty-string `var.*` token meaning "no key". */
  readonly keyArn: string;
  /** Region of the buckets, for the `kms:ViaService` condition (`s3.<region>.amazonaws.com`). */
  readonly region: string;
  /**
   * ARNs of the buckets the function reads or writes. S3 passes the encryption
   * context `aws:s3:arn` to KMS: the bucket's ARN when the bucket uses an S3
   * Bucket Key (as HardenedBucket does with a key), the object's ARN otherwise.
   * The grant is limited to both forms for these buckets, so the role cannot use
   * the key (shared, perhaps, with other buckets) for any other bucket.
   */
  readonly bucketArns: readonly string[];
}

/** Statement id of the role's KMS statement, present only when a key is configured. */
export const KMS_STATEMENT_SID = 'UseBucketKeyThroughS3';

/** Statement id of the role's X-Ray statement, present only while tracing is enabled. */
export const XRAY_STATEMENT_SID = 'WriteTraces';

/**
 * What a function needs to send traces (AWS's AWSXRayDaemonWriteAccess, less the sampling reads the
 * Node.js tracer does not make). X-Ray supports no resource-level permissions for these: the
 * statement's resource must be "*".
 */
export const XRAY_WRITE_ACTIONS = ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'] as const;

/** The environment variable Powertools Tracer (functions/aws/telemetry.ts) is switched on by. */
export const TRACE_ENABLED_ENV = 'POWERTOOLS_TRACE_ENABLED';

/**
 * A Lambda function with its own role, inline policy and log group.
 *
 * The log group is created by Terraform (not on first invocation by Lambda) so
 * it has a retention period and disappears on destroy; that also lets the role
 * be limited to that one group. The construct id becomes the logical id of the
 * function, role, role policy and log group (`aws_lambda_function.<id>`, ...).
 */
export class PipelineFunction extends Construct {
  readonly function: LambdaFunction;
  readonly role: IamRole;
  readonly logGroup: CloudwatchLogGroup;
  /** The role's inline policy: whatever the function's event source needs the role for waits for it. */
  readonly rolePolicy: IamRolePolicy;

  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    super(scope, id);
    const runtime = props.runtime ?? 'nodejs22.x';
    const architecture = props.architecture ?? 'arm64';
    const handler = props.handler ?? 'index.handler';
    const logRetentionDays = props.logRetentionDays ?? 30;

    this.logGroup = new CloudwatchLogGroup(this, 'log-group', {
      name: `/aws/lambda/${props.functionName}`,
      retentionInDays: logRetentionDays,
    });
    this.logGroup.overrideLogicalId(id);

    const assumeRole = new DataAwsIamPolicyDocument(this, 'assume-role', {
      statement: [
        {
          effect: 'Allow',
          actions: ['sts:AssumeRole'],
          principals: [{ type: 'Service', identifiers: ['lambda.amazonaws.com'] }],
        },
      ],
    });
    assumeRole.overrideLogicalId(`${id}_assume_role`);

    this.role = new IamRole(this, 'role', {
      name: props.functionName,
      description: `Execution role of the ${props.functionName} function`,
      assumeRolePolicy: assumeRole.json,
    });
    this.role.overrideLogicalId(id);

    const grants: readonly Grant[] = [
      ...props.grants,
      // Lambda creates the group itself only when the role may; here it exists already.
      { sid: 'WriteOwnLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [`${this.logGroup.arn}:*`] },
    ];
    const permissions = new DataAwsIamPolicyDocument(this, 'permissions', {
      statement: grants.map((grant) => ({
        sid: grant.sid,
        effect: 'Allow',
        actions: [...grant.actions],
        resources: [...grant.resources],
        condition: grant.conditions?.map(({ test, variable, values }) => ({ test, variable, values: [...values] })),
      })),
    });
    permissions.overrideLogicalId(`${id}_permissions`);
    // Statements Terraform decides on: dynamic blocks over lists of zero or one element.
    const dynamicStatements: Record<string, unknown>[] = [];
    if (props.bucketKey) {
      // A statement that exists only when the key ARN is non-empty: a dynamic block
      // over a list of zero or one key, so the role never names an empty resource.
      const { keyArn, region, bucketArns } = props.bucketKey;
      dynamicStatements.push({
        // The literal goes first: cdktf renders a falsy right operand as `undefined`.
        for_each: Fn.conditional(Op.eq('', keyArn), [], [keyArn]),
        content: {
          sid: KMS_STATEMENT_SID,
          effect: 'Allow',
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: ['${statement.value}'],
          condition: [
            { test: 'StringEquals', variable: 'kms:ViaService', values: [`s3.${region}.amazonaws.com`] },
            // StringLike for the objects' "<bucket ARN>/*"; a bucket ARN has no wildcard and matches only itself.
            {
              test: 'StringLike',
              variable: 'kms:EncryptionContext:aws:s3:arn',
              values: bucketArns.flatMap((arn) => [arn, `${arn}/*`]),
            },
          ],
        },
      });
    }
    if (props.tracingEnabled !== undefined) {
      dynamicStatements.push({
        for_each: Fn.conditional(props.tracingEnabled, ['xray'], []),
        content: {
          sid: XRAY_STATEMENT_SID,
          effect: 'Allow',
          actions: [...XRAY_WRITE_ACTIONS],
          // The one resource X-Ray's write actions take (no resource-level permissions).
          resources: ['*'],
        },
      });
    }
    if (dynamicStatements.length > 0) {
      // JSON syntax for several blocks of one type: an array.
      permissions.addOverride('dynamic.statement', dynamicStatements.length === 1 ? dynamicStatements[0] : dynamicStatements);
    }

    const rolePolicy = (this.rolePolicy = new IamRolePolicy(this, 'role-policy', {
      name: 'pipeline',
      role: this.role.id,
      policy: permissions.json,
    }));
    rolePolicy.overrideLogicalId(id);

    // Our own hash of names and contents (cdktf's default hashes contents only), so that
    // exactly a change in the bundle redeploys the function.
    const code = new TerraformAsset(this, 'code', { path: props.codeDir, type: AssetType.ARCHIVE, assetHash: directoryHash(props.codeDir) });

    this.function = new LambdaFunction(this, 'function', {
      functionName: props.functionName,
      role: this.role.arn,
      runtime,
      architectures: [architecture],
      handler,
      filename: code.path,
      // Changes exactly when the directory's content does, so unchanged code is not redeployed.
      sourceCodeHash: code.assetHash,
      memorySize: props.memorySize,
      timeout: props.timeout,
      // No reservation (and none left from an earlier deploy): the event source mapping's
      // maximum_concurrency caps the function without taking from the account's concurrency.
      reservedConcurrentExecutions: -1,
      layers: props.layers ? [...props.layers] : undefined,
      environment: {
        variables: {
          ...props.environment,
          // tostring(), not a conditional: "true" or "false", and the local runner evaluates it.
          ...(props.tracingEnabled !== undefined ? { [TRACE_ENABLED_ENV]: Token.asString(Fn.tostring(props.tracingEnabled)) } : {}),
        },
      },
      tracingConfig:
        props.tracingEnabled !== undefined ? { mode: Token.asString(Fn.conditional(props.tracingEnabled, 'Active', 'PassThrough')) } : undefined,
      loggingConfig:
        props.logLevel !== undefined
          ? { logFormat: 'JSON', applicationLogLevel: props.logLevel, systemLogLevel: 'WARN', logGroup: this.logGroup.name }
          : undefined,
      // Without the group, Lambda would create one without retention; without the
      // policy, the first invocations could run before the role may do anything.
      dependsOn: [this.logGroup, rolePolicy],
    });
    this.function.overrideLogicalId(id);
  }
}
