import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group/index.js';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document/index.js';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role/index.js';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy/index.js';
import { LambdaFunction } from '@cdktf/provider-aws/lib/lambda-function/index.js';
import { AssetType, TerraformAsset } from 'cdktf';
import { Construct } from 'constructs';

/** One Allow statement of a function's role. Actions are never wildcards; resources are as narrow as the data. */
export interface Grant {
  /** Statement id, so a denied call can be traced to the statement that should have allowed it. */
  readonly sid: string;
  readonly actions: readonly string[];
  readonly resources: readonly string[];
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
   * @default 30
   */
  readonly logRetentionDays?: number;
}

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
      })),
    });
    permissions.overrideLogicalId(`${id}_permissions`);

    const rolePolicy = new IamRolePolicy(this, 'role-policy', {
      name: 'pipeline',
      role: this.role.id,
      policy: permissions.json,
    });
    rolePolicy.overrideLogicalId(id);

    const code = new TerraformAsset(this, 'code', { path: props.codeDir, type: AssetType.ARCHIVE });

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
      layers: props.layers ? [...props.layers] : undefined,
      environment: { variables: { ...props.environment } },
      // Without the group, Lambda would create one without retention; without the
      // policy, the first invocations could run before the role may do anything.
      dependsOn: [this.logGroup, rolePolicy],
    });
    this.function.overrideLogicalId(id);
  }
}
