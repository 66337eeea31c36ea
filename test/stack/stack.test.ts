import { expect } from 'chai';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { invokeResourceArns } from '../../functions/core/models/catalogue.js';
import { createApp, stackJsonPath } from '../../terraform/app.js';
import type { SynthConfig } from '../../terraform/synth-config.js';

// Tests read the synthesized cdk.tf.json, the artefact Terraform and the local runner consume.

interface Statement {
  sid?: string;
  effect: string;
  actions: string[];
  resources?: string[];
  principals?: { type: string; identifiers: string[] }[];
  condition?: { test: string; variable: string; values: string[] }[];
}
interface LambdaFunction {
  function_name: string;
  runtime: string;
  architectures: string[];
  handler: string;
  filename: string;
  source_code_hash: string;
  memory_size: string;
  timeout: string;
  role: string;
  layers?: string[];
  depends_on?: string[];
  environment: { variables: Record<string, string> };
}
interface StackJson {
  resource: Record<string, Record<string, Record<string, unknown>>>;
  data: Record<string, Record<string, Record<string, unknown>>>;
  output: Record<string, { value: string; description?: string }>;
  variable: Record<string, { type?: string; description?: string; default?: unknown; validation?: unknown[] }>;
  provider: { aws: { region: string }[] };
  terraform: { backend: { local: { path: string } } };
}

const ACCOUNT_ID = '${data.aws_caller_identity.current.account_id}';
const BUCKETS = ['input', 'staging', 'output'] as const;
const DEFAULT_SYNTH: SynthConfig = { modelId: 'amazon.titan-image-generator-v2:0', region: 'us-east-1' };

/** Stub build output: just enough for the stack's checks and for cdktf to zip. */
const writeStubDist = (root: string): string => {
  const dist = join(root, 'dist');
  for (const fn of ['prepare', 'generate']) {
    mkdirSync(join(dist, 'functions', fn), { recursive: true });
    writeFileSync(join(dist, 'functions', fn, 'index.mjs'), `export const handler = async () => '${fn}';\n`);
  }
  mkdirSync(join(dist, 'layer', 'nodejs', 'node_modules', 'sharp'), { recursive: true });
  writeFileSync(join(dist, 'layer', 'nodejs', 'node_modules', 'sharp', 'package.json'), '{"name":"sharp"}\n');
  return dist;
};

const synthesize = (root: string, synth: SynthConfig, distDir = join(root, 'dist')): { json: StackJson; outdir: string } => {
  const outdir = mkdtempSync(join(root, 'out-'));
  createApp({ outdir, distDir, synth, stateFile: join(root, 'test.tfstate') }).synth();
  return { json: JSON.parse(readFileSync(stackJsonPath(outdir), 'utf8')) as StackJson, outdir };
};

describe('PipelineStack (synthesized cdk.tf.json)', () => {
  let root: string;
  let stack: StackJson;
  let outdir: string;

  const resource = <T = Record<string, unknown>>(type: string, id: string): T => {
    const found = stack.resource[type]?.[id];
    expect(found, `${type}.${id}`).to.not.equal(undefined);
    return found as T;
  };
  const data = <T = Record<string, unknown>>(type: string, id: string): T => {
    const found = stack.data[type]?.[id];
    expect(found, `data.${type}.${id}`).to.not.equal(undefined);
    return found as T;
  };
  const fn = (id: 'prepare' | 'generate'): LambdaFunction => resource<LambdaFunction>('aws_lambda_function', id);
  /** The statements of the policy document an `${data.aws_iam_policy_document.X.json}` reference points at. */
  const statementsOf = (reference: string): Statement[] => {
    const match = /^\$\{data\.aws_iam_policy_document\.(\w+)\.json\}$/.exec(reference);
    expect(match, reference).to.not.equal(null);
    return data<{ statement: Statement[] }>('aws_iam_policy_document', match![1]!).statement;
  };
  const rolePermissions = (id: 'prepare' | 'generate'): Statement[] =>
    statementsOf(resource<{ policy: string }>('aws_iam_role_policy', id).policy);

  before(() => {
    // Arrange
    root = mkdtempSync(join(tmpdir(), 'icp-stack-test-'));
    writeStubDist(root);
    // Act
    ({ json: stack, outdir } = synthesize(root, DEFAULT_SYNTH));
  });

  after(() => {
    rmSync(root, { recursive: true, force: true });
  });

  describe('logical ids', () => {
    it('keeps the addresses the local runner and state depend on', () => {
      const expected: Record<string, string[]> = {
        aws_s3_bucket: ['input', 'staging', 'output'],
        aws_lambda_function: ['prepare', 'generate'],
        aws_s3_bucket_notification: ['input', 'staging'],
        aws_lambda_permission: ['input', 'staging'],
        aws_lambda_layer_version: ['sharp'],
        aws_cloudwatch_log_group: ['prepare', 'generate'],
        aws_iam_role: ['prepare', 'generate'],
        aws_iam_role_policy: ['prepare', 'generate'],
        aws_s3_bucket_public_access_block: ['input', 'staging', 'output'],
        aws_s3_bucket_server_side_encryption_configuration: ['input', 'staging', 'output'],
        aws_s3_bucket_ownership_controls: ['input', 'staging', 'output'],
        aws_s3_bucket_policy: ['input', 'staging', 'output'],
        aws_s3_bucket_lifecycle_configuration: ['staging'],
      };
      for (const [type, ids] of Object.entries(expected)) {
        expect(Object.keys(stack.resource[type] ?? {}), type).to.have.members(ids);
      }
      expect(Object.keys(stack.resource)).to.have.members(Object.keys(expected));
    });
  });

  describe('functions', () => {
    for (const id of ['prepare', 'generate'] as const) {
      it(`${id} runs index.handler on nodejs22.x, arm64, with its own role and zipped code`, () => {
        const lambda = fn(id);
        expect(lambda.runtime).to.equal('nodejs22.x');
        expect(lambda.architectures).to.deep.equal(['arm64']);
        expect(lambda.handler).to.equal('index.handler');
        expect(lambda.function_name).to.equal(`\${var.name_prefix}-${id}`);
        expect(lambda.role).to.equal(`\${aws_iam_role.${id}.arn}`);
        expect(lambda.memory_size).to.equal(`\${var.${id}_memory_mb}`);
        expect(lambda.timeout).to.equal(`\${var.${id}_timeout_s}`);
        expect(lambda.filename).to.match(/^assets\/.+\/archive\.zip$/);
        expect(existsSync(join(stackJsonPath(outdir), '..', lambda.filename)), 'zip written').to.equal(true);
        expect(lambda.source_code_hash).to.be.a('string').and.not.equal('');
      });

      it(`${id} waits for its log group and role policy`, () => {
        expect(fn(id).depends_on).to.have.members([`aws_cloudwatch_log_group.${id}`, `aws_iam_role_policy.${id}`]);
        const logGroup = resource<{ name: string; retention_in_days: number }>('aws_cloudwatch_log_group', id);
        expect(logGroup.name).to.equal(`/aws/lambda/\${var.name_prefix}-${id}`);
        expect(logGroup.retention_in_days).to.equal(30);
      });
    }

    it('gives prepare the sharp layer and generate none', () => {
      expect(fn('prepare').layers).to.deep.equal(['${aws_lambda_layer_version.sharp.arn}']);
      expect(fn('generate').layers).to.equal(undefined);
    });

    it('builds the sharp layer for nodejs22.x on arm64 from its own zip', () => {
      const layer = resource<Record<string, unknown>>('aws_lambda_layer_version', 'sharp');
      expect(layer.layer_name).to.equal('${var.name_prefix}-sharp');
      expect(layer.compatible_runtimes).to.deep.equal(['nodejs22.x']);
      expect(layer.compatible_architectures).to.deep.equal(['arm64']);
      expect(layer.filename).to.match(/^assets\/.+\/archive\.zip$/);
      expect(layer.filename).to.not.equal(fn('prepare').filename);
    });

    it('passes prepare exactly its environment contract', () => {
      expect(fn('prepare').environment.variables).to.deep.equal({
        STAGING_BUCKET: '${aws_s3_bucket.staging.bucket}',
        MODEL_ID: '${var.model_id}',
        DEFAULT_PROMPT: '${var.default_prompt}',
        DEFAULT_NEGATIVE_PROMPT: '${var.default_negative_prompt}',
        DEFAULT_CONTROL_MODE: '${var.default_control_mode}',
        DEFAULT_CONTROL_STRENGTH: '${var.default_control_strength}',
        DEFAULT_COUNT: '${var.default_count}',
        DEFAULT_QUALITY: '${var.default_quality}',
        MAX_INPUT_BYTES: '52428800',
        MAX_INPUT_PIXELS: '60000000',
        NODE_OPTIONS: '--enable-source-maps',
      });
    });

    it('passes generate exactly its environment contract, with the request deadline 30 s inside the timeout', () => {
      expect(fn('generate').environment.variables).to.deep.equal({
        OUTPUT_BUCKET: '${aws_s3_bucket.output.bucket}',
        MODEL_ID: '${var.model_id}',
        REQUEST_TIMEOUT_MS: '${(var.generate_timeout_s - 30) * 1000}',
        NODE_OPTIONS: '--enable-source-maps',
      });
    });
  });

  describe('notifications', () => {
    it('invokes prepare for every object created in the input bucket, once the permission exists', () => {
      const notification = resource<Record<string, unknown>>('aws_s3_bucket_notification', 'input');
      expect(notification.bucket).to.equal('${aws_s3_bucket.input.id}');
      expect(notification.lambda_function).to.deep.equal([
        { events: ['s3:ObjectCreated:*'], lambda_function_arn: '${aws_lambda_function.prepare.arn}' },
      ]);
      expect(notification.depends_on).to.deep.equal(['aws_lambda_permission.input']);
    });

    it('invokes generate only for jobs/…/job.json in the staging bucket, once the permission exists', () => {
      const notification = resource<Record<string, unknown>>('aws_s3_bucket_notification', 'staging');
      expect(notification.bucket).to.equal('${aws_s3_bucket.staging.id}');
      expect(notification.lambda_function).to.deep.equal([
        {
          events: ['s3:ObjectCreated:*'],
          filter_prefix: 'jobs/',
          filter_suffix: '/job.json',
          lambda_function_arn: '${aws_lambda_function.generate.arn}',
        },
      ]);
      expect(notification.depends_on).to.deep.equal(['aws_lambda_permission.staging']);
    });

    for (const [bucket, target] of [['input', 'prepare'], ['staging', 'generate']] as const) {
      it(`lets only the ${bucket} bucket of this account invoke ${target}`, () => {
        const permission = resource<Record<string, unknown>>('aws_lambda_permission', bucket);
        expect(permission).to.include({
          action: 'lambda:InvokeFunction',
          function_name: `\${aws_lambda_function.${target}.function_name}`,
          principal: 's3.amazonaws.com',
          source_arn: `\${aws_s3_bucket.${bucket}.arn}`,
          source_account: ACCOUNT_ID,
        });
      });
    }

    it('never lets a function trigger itself: no function writes to the bucket that invokes it', () => {
      const writes = (id: 'prepare' | 'generate'): string[] =>
        rolePermissions(id).filter((s) => s.actions.includes('s3:PutObject')).flatMap((s) => s.resources ?? []);
      expect(writes('prepare').join()).to.not.include('aws_s3_bucket.input.');
      expect(writes('generate').join()).to.not.include('aws_s3_bucket.staging.');
    });
  });

  describe('buckets', () => {
    for (const id of BUCKETS) {
      it(`hardens the ${id} bucket: unique name, public access blocked, owner enforced, SSE-S3, TLS only`, () => {
        expect(resource('aws_s3_bucket', id)).to.include({
          bucket_prefix: `\${var.name_prefix}-${id}-`,
          force_destroy: '${var.force_destroy}',
        });
        const bucketRef = `\${aws_s3_bucket.${id}.id}`;
        expect(resource('aws_s3_bucket_public_access_block', id)).to.include({
          bucket: bucketRef,
          block_public_acls: true,
          block_public_policy: true,
          ignore_public_acls: true,
          restrict_public_buckets: true,
        });
        expect(resource('aws_s3_bucket_ownership_controls', id)).to.deep.include({
          bucket: bucketRef,
          rule: { object_ownership: 'BucketOwnerEnforced' },
        });
        expect(resource('aws_s3_bucket_server_side_encryption_configuration', id)).to.deep.include({
          bucket: bucketRef,
          rule: [{ apply_server_side_encryption_by_default: { sse_algorithm: 'AES256' } }],
        });
        const policy = resource<{ bucket: string; policy: string }>('aws_s3_bucket_policy', id);
        expect(policy.bucket).to.equal(bucketRef);
        expect(statementsOf(policy.policy)).to.deep.equal([
          {
            sid: 'DenyInsecureTransport',
            effect: 'Deny',
            principals: [{ type: '*', identifiers: ['*'] }],
            actions: ['s3:*'],
            resources: [`\${aws_s3_bucket.${id}.arn}`, `\${aws_s3_bucket.${id}.arn}/*`],
            condition: [{ test: 'Bool', variable: 'aws:SecureTransport', values: ['false'] }],
          },
        ]);
      });
    }

    it('expires staged job files after 7 days', () => {
      const lifecycle = resource<{ bucket: string; rule: Record<string, unknown>[] }>('aws_s3_bucket_lifecycle_configuration', 'staging');
      expect(lifecycle.bucket).to.equal('${aws_s3_bucket.staging.id}');
      expect(lifecycle.rule).to.have.lengthOf(1);
      expect(lifecycle.rule[0]).to.deep.include({ status: 'Enabled', expiration: [{ days: 7 }], filter: [{ prefix: '' }] });
    });
  });

  describe('IAM', () => {
    for (const id of ['prepare', 'generate'] as const) {
      it(`lets only Lambda assume the ${id} role`, () => {
        const role = resource<{ name: string; assume_role_policy: string }>('aws_iam_role', id);
        expect(role.name).to.equal(`\${var.name_prefix}-${id}`);
        expect(statementsOf(role.assume_role_policy)).to.deep.equal([
          { effect: 'Allow', actions: ['sts:AssumeRole'], principals: [{ type: 'Service', identifiers: ['lambda.amazonaws.com'] }] },
        ]);
        expect(resource('aws_iam_role_policy', id)).to.include({ role: `\${aws_iam_role.${id}.id}` });
      });

      it(`grants ${id} only allows, no wildcard action, and wildcards only for objects of a named bucket or its log streams`, () => {
        for (const statement of rolePermissions(id)) {
          expect(statement.effect).to.equal('Allow');
          for (const action of statement.actions) {
            expect(action, statement.sid).to.not.include('*');
          }
          for (const arn of statement.resources ?? []) {
            if (arn.includes('*')) {
              expect(arn, statement.sid).to.match(/^\$\{aws_s3_bucket\.(input|staging|output)\.arn\}\/([a-z]+\/)?\*(\/error\.json)?$|^\$\{aws_cloudwatch_log_group\.\w+\.arn\}:\*$/);
            }
          }
        }
      });
    }

    it('lets prepare read uploads (and tell deleted from forbidden), write jobs, and write its own logs, nothing else', () => {
      expect(rolePermissions('prepare')).to.deep.equal([
        { sid: 'ReadUploads', effect: 'Allow', actions: ['s3:GetObject'], resources: ['${aws_s3_bucket.input.arn}/*'] },
        { sid: 'TellDeletedUploads', effect: 'Allow', actions: ['s3:ListBucket'], resources: ['${aws_s3_bucket.input.arn}'] },
        { sid: 'WriteJobs', effect: 'Allow', actions: ['s3:PutObject'], resources: ['${aws_s3_bucket.staging.arn}/jobs/*'] },
        {
          sid: 'WriteOwnLogs',
          effect: 'Allow',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: ['${aws_cloudwatch_log_group.prepare.arn}:*'],
        },
      ]);
    });

    it('lets generate read jobs, write and read results, clear stale error reports, invoke exactly the catalogue ARNs, and write its own logs', () => {
      expect(rolePermissions('generate')).to.deep.equal([
        { sid: 'ReadJobs', effect: 'Allow', actions: ['s3:GetObject'], resources: ['${aws_s3_bucket.staging.arn}/jobs/*'] },
        { sid: 'WriteResults', effect: 'Allow', actions: ['s3:PutObject', 's3:GetObject'], resources: ['${aws_s3_bucket.output.arn}/*'] },
        { sid: 'ClearStaleReports', effect: 'Allow', actions: ['s3:DeleteObject'], resources: ['${aws_s3_bucket.output.arn}/*/error.json'] },
        {
          sid: 'InvokeModel',
          effect: 'Allow',
          actions: ['bedrock:InvokeModel'],
          resources: ['arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-image-generator-v2:0'],
        },
        {
          sid: 'WriteOwnLogs',
          effect: 'Allow',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: ['${aws_cloudwatch_log_group.generate.arn}:*'],
        },
      ]);
    });

    it('for an inference profile, allows the profile in this account and the model in every region it routes to', () => {
      // Arrange
      const synth: SynthConfig = { modelId: 'us.stability.stable-image-control-sketch-v1:0', region: 'us-west-2' };
      // Act
      const { json } = synthesize(root, synth);
      // Assert
      const generatePolicy = json.resource.aws_iam_role_policy?.generate as { policy: string };
      const docId = /aws_iam_policy_document\.(\w+)\.json/.exec(generatePolicy.policy)![1]!;
      const statements = (json.data.aws_iam_policy_document?.[docId] as { statement: Statement[] }).statement;
      const invoke = statements.find((s) => s.sid === 'InvokeModel');
      expect(invoke?.resources).to.deep.equal(invokeResourceArns(synth.modelId, synth.region, ACCOUNT_ID));
      expect(invoke?.resources).to.deep.equal([
        `arn:aws:bedrock:us-west-2:${ACCOUNT_ID}:inference-profile/us.stability.stable-image-control-sketch-v1:0`,
        'arn:aws:bedrock:us-east-1::foundation-model/stability.stable-image-control-sketch-v1:0',
        'arn:aws:bedrock:us-east-2::foundation-model/stability.stable-image-control-sketch-v1:0',
        'arn:aws:bedrock:us-west-2::foundation-model/stability.stable-image-control-sketch-v1:0',
      ]);
      expect(json.variable.model_id?.default).to.equal(synth.modelId);
      expect(json.variable.region?.default).to.equal(synth.region);
    });
  });

  describe('variables and provider', () => {
    const expected: Record<string, { type: string; default: unknown; validated: boolean }> = {
      region: { type: 'string', default: 'us-east-1', validated: true },
      name_prefix: { type: 'string', default: 'icp', validated: true },
      model_id: { type: 'string', default: 'amazon.titan-image-generator-v2:0', validated: true },
      default_prompt: { type: 'string', default: '', validated: false },
      default_negative_prompt: { type: 'string', default: '', validated: false },
      default_control_mode: { type: 'string', default: 'CANNY_EDGE', validated: true },
      default_control_strength: { type: 'number', default: 0.7, validated: true },
      default_count: { type: 'number', default: 1, validated: true },
      default_quality: { type: 'string', default: 'standard', validated: true },
      prepare_memory_mb: { type: 'number', default: 1769, validated: true },
      prepare_timeout_s: { type: 'number', default: 60, validated: true },
      generate_memory_mb: { type: 'number', default: 512, validated: true },
      generate_timeout_s: { type: 'number', default: 300, validated: true },
      force_destroy: { type: 'bool', default: true, validated: false },
    };

    it('declares every variable with a type, a description and a default, and nothing else', () => {
      expect(Object.keys(stack.variable)).to.have.members(Object.keys(expected));
      for (const [name, want] of Object.entries(expected)) {
        const variable = stack.variable[name]!;
        expect(variable.type, name).to.equal(want.type);
        expect(variable.default, name).to.deep.equal(want.default);
        expect(variable.description, name).to.be.a('string').with.length.above(20);
        expect(variable.validation !== undefined, `${name} validation`).to.equal(want.validated);
      }
    });

    it('takes the provider region from var.region', () => {
      expect(stack.provider.aws[0]?.region).to.equal('${var.region}');
    });

    it('keeps state in the file it was given', () => {
      expect(stack.terraform.backend.local.path).to.equal(join(root, 'test.tfstate'));
    });
  });

  describe('outputs', () => {
    it('names the buckets and functions and gives a ready upload command, each described', () => {
      expect(stack.output).to.have.all.keys(
        'input_bucket_name',
        'staging_bucket_name',
        'output_bucket_name',
        'prepare_function_name',
        'generate_function_name',
        'upload_command',
      );
      for (const [name, output] of Object.entries(stack.output)) {
        expect(output.description, name).to.be.a('string').and.not.equal('');
      }
      expect(stack.output.input_bucket_name?.value).to.equal('${aws_s3_bucket.input.bucket}');
      expect(stack.output.staging_bucket_name?.value).to.equal('${aws_s3_bucket.staging.bucket}');
      expect(stack.output.output_bucket_name?.value).to.equal('${aws_s3_bucket.output.bucket}');
      expect(stack.output.prepare_function_name?.value).to.equal('${aws_lambda_function.prepare.function_name}');
      expect(stack.output.generate_function_name?.value).to.equal('${aws_lambda_function.generate.function_name}');
      expect(stack.output.upload_command?.value).to.equal(
        'aws s3 cp photo.jpg s3://${aws_s3_bucket.input.bucket}/ --metadata prompt="a tiger as a hand drawn sketch"',
      );
    });
  });

  describe('refusing to synthesize', () => {
    it('fails with the catalogue message when the model is not offered in the region', () => {
      // Arrange
      const synth: SynthConfig = { modelId: 'amazon.nova-canvas-v1:0', region: 'us-west-2' };
      // Act / Assert
      expect(() => synthesize(root, synth)).to.throw(
        Error,
        'Model amazon.nova-canvas-v1:0 is not offered in us-west-2; it is offered in: us-east-1, eu-west-1, ap-northeast-1',
      );
    });

    it('fails listing every missing build output and saying to run the build', () => {
      // Arrange
      const emptyDist = mkdtempSync(join(root, 'empty-dist-'));
      mkdirSync(join(emptyDist, 'functions', 'prepare'), { recursive: true });
      // Act / Assert
      expect(() => synthesize(root, DEFAULT_SYNTH, emptyDist)).to.throw(
        Error,
        `Build output in ${emptyDist} is incomplete: ` +
          `${join(emptyDist, 'functions/prepare')} holds none of index.mjs, index.js, index.cjs; ` +
          `${join(emptyDist, 'functions/generate')} does not exist; ` +
          `${join(emptyDist, 'layer')} does not exist. Run npm run build first.`,
      );
    });
  });
});
