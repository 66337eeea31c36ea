import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimKey } from '../../functions/core/claim.js';
import { stagingKeys } from '../../functions/core/job.js';
import { outputKeys } from '../../functions/core/naming.js';
import type { SynthConfig } from '../../terraform/synth-config.js';
import { allStatements, DEFAULT_SYNTH, type PolicyDocument, policyDocumentId, type StackJson, type Statement, synthesize, writeStubDist } from './helpers.js';

// Security rules, checked on every policy document and bucket of the synthesized
// stack rather than on a list of known ones, so a resource added later is held to them too.

type Resources = Record<string, Record<string, unknown>>;

/** IAM's wildcard matching (`*` any run of characters, `?` one character), case-sensitive like resource ARNs. */
const iamMatches = (pattern: string, value: string): boolean =>
  new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`).test(value);

/** Replaces `${aws_s3_bucket.<id>.arn}` with the ARN of a bucket named `<id>`, so code-derived keys can be matched. */
const withBucketArns = (resource: string): string => resource.replace(/\$\{aws_s3_bucket\.(\w+)\.arn\}/g, 'arn:aws:s3:::$1');

/** A wildcard is acceptable only in an object path below a named bucket or as the log-stream part of a named log group. */
const SCOPED_WILDCARD = [/^\$\{aws_s3_bucket\.\w+\.arn\}\/[^*]*\*/, /^\$\{aws_cloudwatch_log_group\.\w+\.arn\}:\*$/];

/** JSON with object keys sorted, for comparing values whatever order cdktf wrote their keys in. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );

/** The one Deny the stack may contain: refusing plain HTTP. Denying `s3:*` is the point of it. */
const isTlsOnlyDeny = (statement: Statement): boolean =>
  statement.effect === 'Deny' &&
  canonical(statement.principals) === canonical([{ type: '*', identifiers: ['*'] }]) &&
  canonical(statement.condition) === canonical([{ test: 'Bool', variable: 'aws:SecureTransport', values: ['false'] }]);

const SYNTH_CONFIGS: readonly SynthConfig[] = [DEFAULT_SYNTH, { modelId: 'us.stability.stable-image-control-sketch-v1:0', region: 'us-west-2' }];

for (const synth of SYNTH_CONFIGS) {
  describe(`security rules (${synth.modelId} in ${synth.region})`, () => {
    let root: string;
    let stack: StackJson;

    const resources = (type: string): Resources => (stack.resource[type] ?? {}) as Resources;
    const documents = (): Record<string, PolicyDocument> => (stack.data.aws_iam_policy_document ?? {}) as Record<string, PolicyDocument>;
    const documentOf = (reference: unknown): PolicyDocument => {
      const id = policyDocumentId(reference);
      expect(id, String(reference)).to.be.a('string');
      return documents()[id!]!;
    };
    const roleStatements = (role: string): Statement[] => allStatements(documentOf(resources('aws_iam_role_policy')[role]?.policy)).map(({ statement }) => statement);
    const roleStatement = (role: string, sid: string): Statement => {
      const found = roleStatements(role).find((statement) => statement.sid === sid);
      expect(found, `${role} ${sid}`).to.not.equal(undefined);
      return found!;
    };
    const allows = (role: string, action: string, resource: string): boolean =>
      roleStatements(role).some(
        (s) => s.effect === 'Allow' && s.actions.includes(action) && (s.resources ?? []).some((pattern) => iamMatches(withBucketArns(pattern), resource)),
      );

    before(() => {
      root = mkdtempSync(join(tmpdir(), 'icp-security-test-'));
      writeStubDist(root);
      ({ json: stack } = synthesize(root, synth));
    });

    after(() => {
      rmSync(root, { recursive: true, force: true });
    });

    describe('IAM policy documents', () => {
      it('every policy in the stack is a parsed policy document, and no managed policy is attached', () => {
        for (const [type, byId] of Object.entries(stack.resource)) {
          for (const [id, config] of Object.entries(byId)) {
            for (const [attribute, value] of Object.entries(config)) {
              if (/(^|_)policy$/.test(attribute) && typeof value === 'string') {
                expect(policyDocumentId(value), `${type}.${id}.${attribute}`).to.be.a('string');
              }
            }
            expect(config, `${type}.${id}`).to.not.have.any.keys('managed_policy_arns', 'inline_policy');
          }
        }
        for (const type of ['aws_iam_policy', 'aws_iam_role_policy_attachment', 'aws_iam_policy_attachment', 'aws_iam_user_policy', 'aws_iam_group_policy']) {
          expect(stack.resource, type).to.not.have.property(type);
        }
      });

      it('no Allow statement has a wildcard action, a NotAction or a NotResource', () => {
        for (const [id, doc] of Object.entries(documents())) {
          for (const { statement } of allStatements(doc)) {
            expect(statement, `${id} ${statement.sid}`).to.not.have.any.keys('not_actions', 'not_resources', 'not_principals');
            if (statement.effect === 'Allow') {
              for (const action of statement.actions) {
                expect(action, `${id} ${statement.sid}`).to.not.include('*');
              }
            }
          }
        }
      });

      it('every resource is named; a wildcard appears only in object paths of a named bucket or log streams of a named group', () => {
        let checked = 0;
        for (const [id, doc] of Object.entries(documents())) {
          for (const { statement } of allStatements(doc)) {
            const trustPolicy = statement.actions.every((action) => action === 'sts:AssumeRole');
            if (trustPolicy) {
              expect(statement.resources, `${id}: a trust policy names no resources`).to.equal(undefined);
              continue;
            }
            expect(statement.resources, `${id} ${statement.sid}`).to.be.an('array').that.is.not.empty;
            for (const resource of statement.resources ?? []) {
              checked += 1;
              expect(resource, `${id} ${statement.sid}`).to.not.equal('*');
              if (resource.includes('*') && !isTlsOnlyDeny(statement)) {
                expect(SCOPED_WILDCARD.some((pattern) => pattern.test(resource)), `${id} ${statement.sid}: ${resource}`).to.equal(true);
              }
            }
          }
        }
        expect(checked).to.be.above(10);
      });

      it('principals: only the Lambda service may assume roles; the only Deny is the TLS-only bucket policy', () => {
        for (const [id, doc] of Object.entries(documents())) {
          for (const { statement } of allStatements(doc)) {
            if (statement.effect === 'Deny') {
              expect(isTlsOnlyDeny(statement), `${id} ${statement.sid}`).to.equal(true);
            } else if (statement.principals) {
              expect(statement.principals, id).to.deep.equal([{ type: 'Service', identifiers: ['lambda.amazonaws.com'] }]);
              expect(statement.actions, id).to.deep.equal(['sts:AssumeRole']);
            }
          }
        }
      });

      it('gives each role exactly the statements listed for it', () => {
        expect(roleStatements('prepare').map((s) => s.sid)).to.have.members([
          'ReadUploads',
          'TellDeletedUploads',
          'WriteJobs',
          'SendFailedEvents',
          'WriteOwnLogs',
          'UseBucketKeyThroughS3',
        ]);
        expect(roleStatements('generate').map((s) => s.sid)).to.have.members([
          'ReadJobs',
          'ClaimRequests',
          'WriteResults',
          'ClearStaleReports',
          'InvokeModel',
          'SendFailedEvents',
          'WriteOwnLogs',
          'UseBucketKeyThroughS3',
        ]);
      });
    });

    describe('each statement is needed, and covers what the code does', () => {
      const jobId = 'a'.repeat(64);
      const staged = stagingKeys(jobId);
      const results = outputKeys('holiday/tiger.jpg');

      it('prepare: reads uploads, writes every staged file of a job, and nothing else in S3', () => {
        expect(allows('prepare', 's3:GetObject', 'arn:aws:s3:::input/holiday/tiger.jpg'), 'ReadUploads').to.equal(true);
        for (const key of Object.values(staged)) {
          expect(allows('prepare', 's3:PutObject', `arn:aws:s3:::staging/${key}`), key).to.equal(true);
        }
        // ListBucket turns "deleted before prepare ran" into 404 instead of 403 (see stack.ts).
        expect(roleStatement('prepare', 'TellDeletedUploads').resources).to.deep.equal(['${aws_s3_bucket.input.arn}']);
        expect(allows('prepare', 's3:PutObject', 'arn:aws:s3:::input/holiday/tiger.jpg'), 'writing uploads').to.equal(false);
        expect(allows('prepare', 's3:GetObject', `arn:aws:s3:::staging/${staged.job}`), 'reading jobs').to.equal(false);
      });

      it('generate: reads the job and its pictures, claims the request, writes every result, deletes only error.json', () => {
        for (const key of Object.values(staged)) {
          expect(allows('generate', 's3:GetObject', `arn:aws:s3:::staging/${key}`), key).to.equal(true);
        }
        const claim = claimKey(jobId, 'f'.repeat(24));
        expect(allows('generate', 's3:PutObject', `arn:aws:s3:::staging/${claim}`), claim).to.equal(true);
        expect(allows('generate', 's3:GetObject', `arn:aws:s3:::staging/${claim}`), claim).to.equal(true);
        for (const key of [results.image(1), results.image(5), results.edges, results.manifest, results.error]) {
          expect(allows('generate', 's3:PutObject', `arn:aws:s3:::output/${key}`), key).to.equal(true);
        }
        expect(allows('generate', 's3:DeleteObject', `arn:aws:s3:::output/${results.error}`)).to.equal(true);
        expect(allows('generate', 's3:DeleteObject', `arn:aws:s3:::output/${results.manifest}`), 'deleting results').to.equal(false);
        expect(allows('generate', 's3:PutObject', `arn:aws:s3:::staging/${staged.job}`), 'writing a job file (would trigger itself)').to.equal(false);
        expect(allows('generate', 's3:GetObject', `arn:aws:s3:::output/${results.manifest}`), 'reading results (it never does)').to.equal(false);
      });

      it('generate: a claim key can never fire the staging trigger', () => {
        const notification = resources('aws_s3_bucket_notification').staging as { lambda_function: { filter_prefix: string; filter_suffix: string }[] };
        const [{ filter_prefix: prefix, filter_suffix: suffix }] = notification.lambda_function as [{ filter_prefix: string; filter_suffix: string }];
        const claim = claimKey(jobId, 'f'.repeat(24));
        expect(claim.startsWith(prefix) && claim.endsWith(suffix), claim).to.equal(false);
        expect(staged.job.startsWith(prefix) && staged.job.endsWith(suffix), staged.job).to.equal(true);
      });

      it('both: send failed events to exactly the queue their async-invoke config names, and log only to their own group', () => {
        for (const role of ['prepare', 'generate']) {
          const invokeConfig = resources('aws_lambda_function_event_invoke_config')[role] as { destination_config: { on_failure: { destination: string } } };
          expect(roleStatement(role, 'SendFailedEvents')).to.deep.include({
            actions: ['sqs:SendMessage'],
            resources: [invokeConfig.destination_config.on_failure.destination],
          });
          expect(roleStatement(role, 'WriteOwnLogs').resources).to.deep.equal([`\${aws_cloudwatch_log_group.${role}.arn}:*`]);
        }
      });

      it('both: may use a KMS key only when one is configured, only that key, only through S3 in the stack region', () => {
        for (const role of ['prepare', 'generate']) {
          const doc = documentOf(resources('aws_iam_role_policy')[role]?.policy);
          const dynamic = [doc.dynamic?.statement ?? []].flat();
          expect(dynamic, role).to.have.lengthOf(1);
          expect(dynamic[0]!.for_each).to.equal('${("" == var.kms_key_arn) ? [] : [var.kms_key_arn]}');
          expect(dynamic[0]!.content.resources).to.deep.equal(['${statement.value}']);
          expect(dynamic[0]!.content.condition).to.deep.equal([
            { test: 'StringEquals', variable: 'kms:ViaService', values: [`s3.${synth.region}.amazonaws.com`] },
          ]);
        }
      });

      it('only generate may invoke a model, and only ARNs of the synthesized model', () => {
        expect(roleStatements('prepare').flatMap((s) => s.actions).filter((a) => a.startsWith('bedrock:'))).to.deep.equal([]);
        const invoke = roleStatement('generate', 'InvokeModel');
        expect(invoke.actions).to.deep.equal(['bedrock:InvokeModel']);
        const modelName = synth.modelId.replace(/^us\./, '');
        for (const arn of invoke.resources ?? []) {
          expect(arn).to.match(/^arn:aws:bedrock:[a-z0-9-]+:(\$\{data\.aws_caller_identity\.current\.account_id\})?:(foundation-model|inference-profile)\//);
          expect(arn.endsWith(modelName) || arn.endsWith(synth.modelId), arn).to.equal(true);
        }
      });
    });

    describe('buckets', () => {
      it('hardens every bucket: public access block, owner enforced, default encryption, TLS-only policy', () => {
        const buckets = Object.keys(resources('aws_s3_bucket'));
        expect(buckets).to.have.members(['input', 'staging', 'output']);
        const findFor = (type: string, bucket: string): Record<string, unknown> => {
          const found = Object.values(resources(type)).filter((config) => config.bucket === `\${aws_s3_bucket.${bucket}.id}`);
          expect(found, `${type} for ${bucket}`).to.have.lengthOf(1);
          return found[0]!;
        };
        for (const bucket of buckets) {
          expect(findFor('aws_s3_bucket_public_access_block', bucket)).to.include({
            block_public_acls: true,
            block_public_policy: true,
            ignore_public_acls: true,
            restrict_public_buckets: true,
          });
          expect(findFor('aws_s3_bucket_ownership_controls', bucket)).to.deep.include({ rule: { object_ownership: 'BucketOwnerEnforced' } });
          const encryption = findFor('aws_s3_bucket_server_side_encryption_configuration', bucket) as {
            rule: { apply_server_side_encryption_by_default: { sse_algorithm: string } }[];
          };
          expect(encryption.rule[0]!.apply_server_side_encryption_by_default.sse_algorithm).to.match(/"aws:kms" : "AES256"/);
          const policy = findFor('aws_s3_bucket_policy', bucket) as { policy: string; depends_on: string[] };
          const statements = allStatements(documentOf(policy.policy)).map(({ statement }) => statement);
          expect(statements.map(isTlsOnlyDeny), bucket).to.deep.equal([true]);
          expect(statements[0]!.resources).to.have.members([`\${aws_s3_bucket.${bucket}.arn}`, `\${aws_s3_bucket.${bucket}.arn}/*`]);
          expect(resources('aws_s3_bucket')[bucket]).to.include({ force_destroy: '${var.force_destroy}' });
        }
      });
    });

    describe('ordering', () => {
      it('every notification waits for the permission that lets its bucket invoke each target', () => {
        const notifications = Object.entries(resources('aws_s3_bucket_notification'));
        expect(notifications).to.not.be.empty;
        for (const [id, notification] of notifications) {
          const bucket = /^\$\{aws_s3_bucket\.(\w+)\.id\}$/.exec(String(notification.bucket))?.[1];
          expect(bucket, id).to.be.a('string');
          for (const target of notification.lambda_function as { lambda_function_arn: string }[]) {
            const fn = /^\$\{aws_lambda_function\.(\w+)\.arn\}$/.exec(target.lambda_function_arn)?.[1];
            const permissions = Object.entries(resources('aws_lambda_permission')).filter(
              ([, permission]) =>
                permission.function_name === `\${aws_lambda_function.${fn}.function_name}` &&
                permission.principal === 's3.amazonaws.com' &&
                permission.source_arn === `\${aws_s3_bucket.${bucket}.arn}` &&
                permission.action === 'lambda:InvokeFunction',
            );
            expect(permissions, `${id} → ${fn}`).to.have.lengthOf(1);
            expect(notification.depends_on, id).to.include(`aws_lambda_permission.${permissions[0]![0]}`);
          }
        }
      });

      it('every bucket policy waits for the public access block of its bucket', () => {
        for (const [id, policy] of Object.entries(resources('aws_s3_bucket_policy'))) {
          expect(policy.depends_on, id).to.deep.equal([`aws_s3_bucket_public_access_block.${id}`]);
        }
      });
    });
  });
}
