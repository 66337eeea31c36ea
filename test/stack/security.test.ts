import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answerKey, claimKey } from '../../functions/core/claim.js';
import { stagingKeys } from '../../functions/core/job.js';
import { JOB_TRIGGER, Staging } from '../../functions/core/layout.js';
import { findModel } from '../../functions/core/models/catalogue.js';
import { outputKeys } from '../../functions/core/naming.js';
import { publicationKey } from '../../functions/core/publication.js';
import { TOPIC_KEY_STATEMENT_SIDS } from '../../terraform/constructs/dead-letter-queue.js';
import type { SynthConfig } from '../../terraform/synth-config.js';
import {
  allStatements,
  DEFAULT_SYNTH,
  mayAllow,
  type PolicyDocument,
  policyDocumentId,
  type StackJson,
  type Statement,
  synthesize,
  writeStubDist,
} from './helpers.js';

// Security rules, checked on every policy document and bucket of the synthesized
// stack rather than on a list of known ones, so a resource added later is held to them too.

type Resources = Record<string, Record<string, unknown>>;

/** Attributes named like a policy that are not IAM policies: SQS's redrive settings (JSON of their own). */
const NOT_IAM_POLICIES = new Set(['redrive_policy', 'redrive_allow_policy']);

/** A wildcard is acceptable only in an object path below a named bucket or as the log-stream part of a named log group. */
const SCOPED_WILDCARD = [/^\$\{aws_s3_bucket\.\w+\.arn\}\/[^*]*\*/, /^\$\{aws_cloudwatch_log_group\.\w+\.arn\}:\*$/];

/** JSON with object keys sorted, for comparing values whatever order cdktf wrote their keys in. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );

/** The one Deny the stack may contain: refusing plain HTTP. Denying `s3:*` (or `sqs:*` on a queue) is the point of it. */
const isTlsOnlyDeny = (statement: Statement): boolean =>
  statement.effect === 'Deny' &&
  statement.actions.length === 1 &&
  ['s3:*', 'sqs:*'].includes(statement.actions[0]!) &&
  canonical(statement.principals) === canonical([{ type: '*', identifiers: ['*'] }]) &&
  canonical(statement.condition) === canonical([{ test: 'Bool', variable: 'aws:SecureTransport', values: ['false'] }]);

/**
 * The one Allow on resource "*" a role may have: X-Ray's two write actions, which support no
 * resource-level permissions (the Service Authorization Reference lists no resource type for
 * them), so "*" is the only resource they can be granted on. Exactly those two actions: any
 * other action in the statement would be granted on everything too.
 */
const isXrayWrite = (statement: Statement): boolean =>
  statement.effect === 'Allow' &&
  canonical([...statement.actions].sort()) === canonical(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']) &&
  canonical(statement.resources) === canonical(['*']) &&
  statement.condition === undefined;

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
    const allows = (role: string, action: string, resource: string): boolean => mayAllow(roleStatements(role), action, resource);
    /** Ids of the policy documents used as KMS key policies: resource policies of one key, where `*` means that key. */
    const keyPolicyIds = (): string[] =>
      Object.values(resources('aws_kms_key')).map((key) => {
        const id = policyDocumentId(key.policy);
        expect(id, 'aws_kms_key policy').to.be.a('string');
        return id!;
      });

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
              if (/(^|_)policy$/.test(attribute) && !NOT_IAM_POLICIES.has(attribute) && typeof value === 'string') {
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

      it('no Allow statement has a wildcard action, a NotAction or a NotResource (key policies: see below)', () => {
        for (const [id, doc] of Object.entries(documents())) {
          for (const { statement } of allStatements(doc)) {
            expect(statement, `${id} ${statement.sid}`).to.not.have.any.keys('not_actions', 'not_resources', 'not_principals');
            if (statement.effect === 'Allow' && !keyPolicyIds().includes(id)) {
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
          // In a key policy the resource is always "*", which means that one key.
          if (keyPolicyIds().includes(id)) continue;
          for (const { statement } of allStatements(doc)) {
            const trustPolicy = statement.actions.every((action) => action === 'sts:AssumeRole');
            if (trustPolicy) {
              expect(statement.resources, `${id}: a trust policy names no resources`).to.equal(undefined);
              continue;
            }
            expect(statement.resources, `${id} ${statement.sid}`).to.be.an('array').that.is.not.empty;
            for (const resource of statement.resources ?? []) {
              checked += 1;
              // X-Ray's write actions take no resource but "*" (see isXrayWrite).
              if (isXrayWrite(statement)) continue;
              expect(resource, `${id} ${statement.sid}`).to.not.equal('*');
              if (resource.includes('*') && !isTlsOnlyDeny(statement)) {
                expect(SCOPED_WILDCARD.some((pattern) => pattern.test(resource)), `${id} ${statement.sid}: ${resource}`).to.equal(true);
              }
            }
          }
        }
        expect(checked).to.be.above(10);
      });

      it('the X-Ray exception: each role\'s only "*" is X-Ray\'s two write actions, in a statement that exists only with tracing_enabled', () => {
        for (const role of ['prepare', 'generate']) {
          const doc = documentOf(resources('aws_iam_role_policy')[role]?.policy);
          const everywhere = allStatements(doc).filter(({ statement }) => (statement.resources ?? []).includes('*'));
          expect(everywhere.map(({ statement }) => isXrayWrite(statement)), role).to.deep.equal([true]);
          expect(everywhere[0]!.dynamic, role).to.equal('${var.tracing_enabled ? ["xray"] : []}');
        }
      });

      it('principals: only the Lambda service may assume roles, S3 only send to a queue for one bucket of this account; the only Deny is TLS-only', () => {
        let s3Grants = 0;
        for (const [id, doc] of Object.entries(documents())) {
          if (keyPolicyIds().includes(id)) continue;
          for (const { statement } of allStatements(doc)) {
            if (statement.effect === 'Deny') {
              expect(isTlsOnlyDeny(statement), `${id} ${statement.sid}`).to.equal(true);
            } else if (canonical(statement.principals) === canonical([{ type: 'Service', identifiers: ['s3.amazonaws.com'] }])) {
              // A queue policy: S3 may send notifications, only for a named bucket of this account (confused deputy).
              s3Grants += 1;
              expect(statement.actions, id).to.deep.equal(['sqs:SendMessage']);
              expect(statement.resources, id).to.have.lengthOf(1);
              expect(statement.resources![0], id).to.match(/^\$\{aws_sqs_queue\.\w+\.arn\}$/);
              const conditions = Object.fromEntries((statement.condition ?? []).map((c) => [c.variable, c]));
              expect(conditions['aws:SourceArn']?.test, id).to.equal('ArnEquals');
              expect(conditions['aws:SourceArn']?.values, id).to.have.lengthOf(1);
              expect(conditions['aws:SourceArn']?.values[0], id).to.match(/^\$\{aws_s3_bucket\.\w+\.arn\}$/);
              expect(conditions['aws:SourceAccount'], id).to.deep.equal({
                test: 'StringEquals',
                variable: 'aws:SourceAccount',
                values: ['${data.aws_caller_identity.current.account_id}'],
              });
            } else if (statement.principals) {
              expect(statement.principals, id).to.deep.equal([{ type: 'Service', identifiers: ['lambda.amazonaws.com'] }]);
              expect(statement.actions, id).to.deep.equal(['sts:AssumeRole']);
            }
          }
        }
        expect(s3Grants, 'one per stage queue').to.equal(2);
      });

      it('every queue is encrypted (SSE-SQS) and every queue S3 sends to refuses requests without TLS', () => {
        const queues = resources('aws_sqs_queue');
        expect(Object.keys(queues)).to.have.members(['prepare_queue', 'generate_queue', 'dead_letters']);
        for (const [id, queue] of Object.entries(queues)) {
          expect(queue, id).to.include({ sqs_managed_sse_enabled: true });
        }
        for (const [id, policy] of Object.entries(resources('aws_sqs_queue_policy'))) {
          const statements = allStatements(documentOf(policy.policy)).map(({ statement }) => statement);
          expect(statements.filter(isTlsOnlyDeny).map((s) => s.resources), id).to.deep.equal([[`\${aws_sqs_queue.${id}.arn}`]]);
        }
        for (const notification of Object.values(resources('aws_s3_bucket_notification'))) {
          for (const target of notification.queue as { queue_arn: string }[]) {
            const queue = /^\$\{aws_sqs_queue\.(\w+)\.arn\}$/.exec(target.queue_arn)?.[1];
            expect(resources('aws_sqs_queue_policy')[queue!], `policy of ${queue}`).to.not.equal(undefined);
          }
        }
      });

      it('gives each role exactly the statements listed for it', () => {
        expect(roleStatements('prepare').map((s) => s.sid)).to.have.members([
          'ConsumeOwnQueue',
          'ReadUploads',
          'TellDeletedUploads',
          'WriteJobs',
          'WriteOwnLogs',
          'UseBucketKeyThroughS3',
          'WriteTraces',
        ]);
        expect(roleStatements('generate').map((s) => s.sid)).to.have.members([
          'ConsumeOwnQueue',
          'ReadJobs',
          'ClaimRequests',
          'RecordOutcomes',
          'TellMissingRecords',
          'WriteResults',
          'ReplaceEarlierResults',
          'ListResults',
          'InvokeModel',
          ...(findModel(synth.modelId)?.inferenceProfile ? ['InvokeModelThroughProfile'] : []),
          'WriteOwnLogs',
          'UseBucketKeyThroughS3',
          'WriteTraces',
        ]);
      });

      it('key policies: the account delegates to its IAM policies, and only CloudWatch may use the key besides', () => {
        const ids = keyPolicyIds();
        expect(ids).to.have.lengthOf(1);
        const statements = allStatements(documents()[ids[0]!]!).map(({ statement }) => statement);
        expect(statements).to.deep.equal([
          {
            sid: TOPIC_KEY_STATEMENT_SIDS.account,
            effect: 'Allow',
            principals: [{ type: 'AWS', identifiers: ['arn:aws:iam::${data.aws_caller_identity.current.account_id}:root'] }],
            actions: ['kms:*'],
            resources: ['*'],
          },
          {
            sid: TOPIC_KEY_STATEMENT_SIDS.cloudwatch,
            effect: 'Allow',
            principals: [{ type: 'Service', identifiers: ['cloudwatch.amazonaws.com'] }],
            actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            resources: ['*'],
          },
        ]);
      });
    });

    describe('each statement is needed, and covers what the code does', () => {
      const jobId = 'a'.repeat(64);
      const fingerprint = 'f'.repeat(24);
      const staged = stagingKeys(jobId);
      const results = outputKeys('holiday/tiger.jpg');
      // generate's records, built by the functions' own code.
      const claim = claimKey(jobId, fingerprint);
      const records = [claim, answerKey(claim, 1), publicationKey(results.folder)];
      const resultKeys = [results.image(1), results.image(5), results.edges, results.manifest, results.error];

      it('prepare: reads uploads, writes every staged file of a job, and nothing else in S3', () => {
        expect(allows('prepare', 's3:GetObject', 'arn:aws:s3:::input/holiday/tiger.jpg'), 'ReadUploads').to.equal(true);
        for (const key of Object.values(staged)) {
          expect(allows('prepare', 's3:PutObject', `arn:aws:s3:::staging/${key}`), key).to.equal(true);
          expect(key.startsWith(Staging.JOBS_PREFIX), key).to.equal(true);
        }
        // ListBucket turns "deleted before prepare ran" into 404 instead of 403 (see stack.ts).
        expect(roleStatement('prepare', 'TellDeletedUploads').resources).to.deep.equal(['${aws_s3_bucket.input.arn}']);
        expect(allows('prepare', 's3:PutObject', 'arn:aws:s3:::input/holiday/tiger.jpg'), 'writing uploads').to.equal(false);
        expect(allows('prepare', 's3:GetObject', `arn:aws:s3:::staging/${staged.job}`), 'reading jobs').to.equal(false);
        expect(allows('prepare', 's3:DeleteObject', 'arn:aws:s3:::input/holiday/tiger.jpg'), 'deleting uploads').to.equal(false);
      });

      it("prepare: can neither write nor read generate's claims, kept answers or outcome records", () => {
        for (const key of records) {
          for (const action of ['s3:PutObject', 's3:GetObject', 's3:DeleteObject']) {
            expect(allows('prepare', action, `arn:aws:s3:::staging/${key}`), `${action} ${key}`).to.equal(false);
          }
        }
        // Any key under the two prefixes, not only the ones the code builds today.
        expect(allows('prepare', 's3:PutObject', `arn:aws:s3:::staging/${Staging.CLAIMS_PREFIX}x`)).to.equal(false);
        expect(allows('prepare', 's3:PutObject', `arn:aws:s3:::staging/${Staging.OUTCOMES_PREFIX}x`)).to.equal(false);
        expect(roleStatements('prepare').some((s) => s.actions.includes('s3:ListBucket') && (s.resources ?? []).join().includes('staging')), 'listing staging').to.equal(false);
      });

      it('generate: reads the job and its pictures, and cannot write or delete anything under jobs/ (it would trigger itself)', () => {
        for (const key of Object.values(staged)) {
          expect(allows('generate', 's3:GetObject', `arn:aws:s3:::staging/${key}`), key).to.equal(true);
          expect(allows('generate', 's3:PutObject', `arn:aws:s3:::staging/${key}`), `writing ${key}`).to.equal(false);
          expect(allows('generate', 's3:DeleteObject', `arn:aws:s3:::staging/${key}`), `deleting ${key}`).to.equal(false);
        }
        expect(allows('generate', 's3:PutObject', `arn:aws:s3:::staging/${Staging.JOBS_PREFIX}${jobId}/claims/x.json`), 'the old claim place').to.equal(false);
      });

      it('generate: reads and writes its claims, kept answers and outcome records, and may list the staging bucket', () => {
        for (const key of records) {
          expect(allows('generate', 's3:GetObject', `arn:aws:s3:::staging/${key}`), `reading ${key}`).to.equal(true);
          expect(allows('generate', 's3:PutObject', `arn:aws:s3:::staging/${key}`), `writing ${key}`).to.equal(true);
          expect(allows('generate', 's3:DeleteObject', `arn:aws:s3:::staging/${key}`), `deleting ${key}`).to.equal(false);
        }
        // So a record that does not exist yet reads as 404, not 403.
        expect(roleStatement('generate', 'TellMissingRecords')).to.deep.include({ actions: ['s3:ListBucket'], resources: ['${aws_s3_bucket.staging.arn}'] });
      });

      it('generate: writes, replaces and lists results, never reads them or removes a version for good', () => {
        for (const key of resultKeys) {
          expect(allows('generate', 's3:PutObject', `arn:aws:s3:::output/${key}`), key).to.equal(true);
          expect(allows('generate', 's3:DeleteObject', `arn:aws:s3:::output/${key}`), key).to.equal(true);
          expect(allows('generate', 's3:GetObject', `arn:aws:s3:::output/${key}`), `reading ${key} (it never does)`).to.equal(false);
          expect(allows('generate', 's3:DeleteObjectVersion', `arn:aws:s3:::output/${key}`), `deleting a version of ${key}`).to.equal(false);
        }
        expect(roleStatement('generate', 'ListResults')).to.deep.include({ actions: ['s3:ListBucket'], resources: ['${aws_s3_bucket.output.arn}'] });
        expect(allows('generate', 's3:PutObject', 'arn:aws:s3:::input/holiday/tiger.jpg'), 'writing uploads').to.equal(false);
      });

      it('the output bucket keeps replaced results: versioned, with earlier versions expiring after a variable', () => {
        expect(resources('aws_s3_bucket_versioning').output).to.deep.include({
          bucket: '${aws_s3_bucket.output.id}',
          versioning_configuration: { status: 'Enabled' },
        });
        const rules = resources('aws_s3_bucket_lifecycle_configuration').output?.rule as Record<string, unknown>[];
        expect(rules.map((rule) => rule.noncurrent_version_expiration)).to.deep.include([{ noncurrent_days: '${var.output_noncurrent_version_expiration_days}' }]);
      });

      it('no key generate writes can fire the staging trigger, and every job file does', () => {
        const notification = resources('aws_s3_bucket_notification').staging as { queue: { filter_prefix: string; filter_suffix: string }[] };
        const [{ filter_prefix: prefix, filter_suffix: suffix }] = notification.queue as [{ filter_prefix: string; filter_suffix: string }];
        expect({ prefix, suffix }).to.deep.equal(JOB_TRIGGER);
        for (const key of records) {
          expect(key.startsWith(prefix) && key.endsWith(suffix), key).to.equal(false);
        }
        expect(staged.job.startsWith(prefix) && staged.job.endsWith(suffix), staged.job).to.equal(true);
        expect(staged.job.endsWith(`/${Staging.JOB_FILE}`)).to.equal(true);
      });

      it('both: consume exactly the queue their event source mapping reads, send to no queue, and log only to their own group', () => {
        const mappings = resources('aws_lambda_event_source_mapping');
        for (const role of ['prepare', 'generate']) {
          const mapping = Object.values(mappings).filter((m) => m.function_name === `\${aws_lambda_function.${role}.arn}`);
          expect(mapping, role).to.have.lengthOf(1);
          expect(roleStatement(role, 'ConsumeOwnQueue')).to.deep.include({
            actions: ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage'],
            resources: [mapping[0]!.event_source_arn],
          });
          // Every SQS action of the role is on that one queue; SQS itself moves messages to the dead-letter queue.
          const sqs = roleStatements(role).filter((s) => s.actions.some((a) => a.startsWith('sqs:')));
          expect(sqs.flatMap((s) => s.resources), role).to.deep.equal([mapping[0]!.event_source_arn]);
          expect(sqs.flatMap((s) => s.actions), role).to.not.include('sqs:SendMessage');
          expect(roleStatement(role, 'WriteOwnLogs').resources).to.deep.equal([`\${aws_cloudwatch_log_group.${role}.arn}:*`]);
        }
      });

      it('both: may use a KMS key only when one is configured, only that key, only through S3 in the stack region, only for their buckets', () => {
        const bucketsOf = { prepare: ['input', 'staging'], generate: ['staging', 'output'] };
        for (const [role, buckets] of Object.entries(bucketsOf)) {
          const doc = documentOf(resources('aws_iam_role_policy')[role]?.policy);
          const dynamic = [doc.dynamic?.statement ?? []].flat().filter((block) => block.content.sid === 'UseBucketKeyThroughS3');
          expect(dynamic, role).to.have.lengthOf(1);
          expect(dynamic[0]!.for_each).to.equal('${("" == var.kms_key_arn) ? [] : [var.kms_key_arn]}');
          expect(dynamic[0]!.content.resources).to.deep.equal(['${statement.value}']);
          expect(dynamic[0]!.content.condition).to.deep.equal([
            { test: 'StringEquals', variable: 'kms:ViaService', values: [`s3.${synth.region}.amazonaws.com`] },
            // With S3 Bucket Keys the context is the bucket's ARN; without, the object's.
            {
              test: 'StringLike',
              variable: 'kms:EncryptionContext:aws:s3:arn',
              values: buckets.flatMap((bucket) => [`\${aws_s3_bucket.${bucket}.arn}`, `\${aws_s3_bucket.${bucket}.arn}/*`]),
            },
          ]);
        }
      });

      it('only generate may invoke a model, and only ARNs of the synthesized model', () => {
        expect(roleStatements('prepare').flatMap((s) => s.actions).filter((a) => a.startsWith('bedrock:'))).to.deep.equal([]);
        const invoking = roleStatements('generate').filter((s) => s.actions.some((a) => a.startsWith('bedrock:')));
        expect(invoking.map((s) => s.sid)).to.have.length.above(0);
        const modelName = synth.modelId.replace(/^us\./, '');
        for (const statement of invoking) {
          expect(statement.actions).to.deep.equal(['bedrock:InvokeModel']);
          for (const arn of statement.resources ?? []) {
            expect(arn).to.match(/^arn:aws:bedrock:[a-z0-9-]+:(\$\{data\.aws_caller_identity\.current\.account_id\})?:(foundation-model|inference-profile)\//);
            expect(arn.endsWith(modelName) || arn.endsWith(synth.modelId), arn).to.equal(true);
          }
        }
      });

      it('a model behind an inference profile is reachable only through that profile; a direct model is granted plainly', () => {
        const invoking = roleStatements('generate').filter((s) => s.actions.includes('bedrock:InvokeModel'));
        const profiles = invoking.flatMap((s) => s.resources ?? []).filter((arn) => arn.includes(':inference-profile/'));
        for (const statement of invoking) {
          const models = (statement.resources ?? []).filter((arn) => arn.includes(':foundation-model/'));
          if (findModel(synth.modelId)?.inferenceProfile) {
            expect(profiles, 'the profile').to.have.lengthOf(1);
            if (models.length > 0) {
              // Never a profile and models in one statement: the condition would make the profile unusable.
              expect(models, statement.sid).to.have.lengthOf((statement.resources ?? []).length);
              expect(statement.condition, statement.sid).to.deep.equal([{ test: 'StringEquals', variable: 'bedrock:InferenceProfileArn', values: profiles }]);
            } else {
              expect(statement.condition, statement.sid).to.equal(undefined);
            }
          } else {
            expect(profiles).to.deep.equal([]);
            expect(statement.condition, statement.sid).to.equal(undefined);
          }
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
      it('every lifecycle configuration aborts unfinished multipart uploads after a day', () => {
        const configurations = Object.entries(resources('aws_s3_bucket_lifecycle_configuration'));
        expect(configurations.map(([id]) => id)).to.have.members(['staging', 'output']);
        for (const [id, config] of configurations) {
          const aborts = (config.rule as Record<string, unknown>[]).flatMap((rule) => (rule.abort_incomplete_multipart_upload as unknown[]) ?? []);
          expect(aborts, id).to.deep.equal([{ days_after_initiation: 1 }]);
        }
      });
    });

    describe('alarm topic', () => {
      it('encrypts every SNS topic with a rotated customer-managed key that exists exactly when the topic does', () => {
        const topics = Object.entries(resources('aws_sns_topic'));
        expect(topics).to.not.be.empty;
        for (const [id, topic] of topics) {
          const keyId = /^\$\{aws_kms_key\.(\w+)\[0\]\.arn\}$/.exec(String(topic.kms_master_key_id))?.[1];
          expect(keyId, `${id}: ${String(topic.kms_master_key_id)}`).to.be.a('string');
          const key = resources('aws_kms_key')[keyId!]!;
          expect(key).to.include({ enable_key_rotation: true, count: topic.count });
        }
      });
    });

    describe('ordering', () => {
      it('every notification goes to a queue and waits for the policy that lets its bucket send there; no function is invoked by S3 directly', () => {
        const notifications = Object.entries(resources('aws_s3_bucket_notification'));
        expect(notifications).to.not.be.empty;
        for (const [id, notification] of notifications) {
          const bucket = /^\$\{aws_s3_bucket\.(\w+)\.id\}$/.exec(String(notification.bucket))?.[1];
          expect(bucket, id).to.be.a('string');
          expect(notification, id).to.not.have.any.keys('lambda_function', 'topic');
          for (const target of notification.queue as { queue_arn: string }[]) {
            const queue = /^\$\{aws_sqs_queue\.(\w+)\.arn\}$/.exec(target.queue_arn)?.[1];
            const statements = allStatements(documentOf(resources('aws_sqs_queue_policy')[queue!]?.policy)).map(({ statement }) => statement);
            const sourceArns = statements.flatMap((s) => (s.condition ?? []).filter((c) => c.variable === 'aws:SourceArn').flatMap((c) => c.values));
            expect(sourceArns, `${id} → ${queue}`).to.deep.equal([`\${aws_s3_bucket.${bucket}.arn}`]);
            expect(notification.depends_on, id).to.include(`aws_sqs_queue_policy.${queue}`);
          }
        }
        expect(stack.resource).to.not.have.any.keys('aws_lambda_permission', 'aws_lambda_function_event_invoke_config');
      });

      it('every event source mapping waits for the role policy that lets its function read the queue', () => {
        for (const [id, mapping] of Object.entries(resources('aws_lambda_event_source_mapping'))) {
          const fn = /^\$\{aws_lambda_function\.(\w+)\.arn\}$/.exec(String(mapping.function_name))?.[1];
          expect(mapping.depends_on, id).to.deep.equal([`aws_iam_role_policy.${fn}`]);
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
