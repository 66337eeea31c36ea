/**
 * wiring.ts reads the queues, the bucket notifications to them and the event source mappings
 * from a synthesized stack: a fixture stack synthesized here with cdktf (the contract of issue
 * 9: S3 → SQS → Lambda for each stage, one dead-letter queue), and the real
 * cdktf.out/…/cdk.tf.json once it has them.
 */
import { LambdaEventSourceMapping } from '@cdktf/provider-aws/lib/lambda-event-source-mapping/index.js';
import { LambdaFunction } from '@cdktf/provider-aws/lib/lambda-function/index.js';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider/index.js';
import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket/index.js';
import { S3BucketNotification } from '@cdktf/provider-aws/lib/s3-bucket-notification/index.js';
import { SqsQueue } from '@cdktf/provider-aws/lib/sqs-queue/index.js';
import { SqsQueueRedrivePolicy } from '@cdktf/provider-aws/lib/sqs-queue-redrive-policy/index.js';
import { App, Fn, Op, TerraformStack, TerraformVariable, Token } from 'cdktf';
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queueing } from '../../functions/core/settings';
import { ROOT } from '../../scripts/build-functions';
import { STACK_JSON } from '../../scripts/local/pipeline';
import { checkPipelineWiring, matches, wiringFrom } from '../../scripts/local/wiring';

type Json = Record<string, any>;

interface FixtureOptions {
  /** Write the generate queue's redrive policy with jsonencode() and as its own resource. */
  readonly separateRedrive?: boolean;
  /** Leave the generate mapping out. */
  readonly withoutGenerateMapping?: boolean;
}

/** A stack with the wiring, synthesized with cdktf as terraform/ is. */
const synthesizeFixture = (outdir: string, options: FixtureOptions = {}): Json => {
  const app = new App({ outdir });
  const stack = new TerraformStack(app, 'fixture');
  new AwsProvider(stack, 'aws', { region: 'eu-west-1' });
  const variable = (name: string, value: unknown) => new TerraformVariable(stack, name, { type: typeof value === 'string' ? 'string' : 'number', default: value });
  const prefix = variable('name_prefix', 'icp');
  const region = variable('region', 'eu-west-1');
  const prepareTimeout = variable('prepare_timeout_s', 60);
  const generateTimeout = variable('generate_timeout_s', 120);
  const maxReceiveCount = variable('max_receive_count', 5);
  const prepareMax = variable('prepare_max_concurrency', 10);
  const callsInFlight = variable('max_model_calls_in_flight', 4);
  void region;
  const bucket = (id: string) => {
    const b = new S3Bucket(stack, id, { bucketPrefix: `${prefix.stringValue}-${id}-` });
    b.overrideLogicalId(id);
    return b;
  };
  const input = bucket('input');
  const staging = bucket('staging');
  bucket('output');
  const fn = (id: string, timeout: TerraformVariable) => {
    const f = new LambdaFunction(stack, id, {
      functionName: `${prefix.stringValue}-${id}`,
      role: 'arn:aws:iam::123456789012:role/x',
      handler: 'index.handler',
      runtime: 'nodejs22.x',
      timeout: timeout.numberValue,
      memorySize: 512,
      environment: { variables: { MAX_RECEIVE_COUNT: Token.asString(maxReceiveCount.value) } },
    });
    f.overrideLogicalId(id);
    return f;
  };
  const prepare = fn('prepare', prepareTimeout);
  const generate = fn('generate', generateTimeout);
  const deadLetters = new SqsQueue(stack, 'dead_letters', { name: `${prefix.stringValue}-dead-letters`, messageRetentionSeconds: Queueing.RETENTION_S });
  deadLetters.overrideLogicalId('dead_letters');
  const queue = (id: string, timeout: TerraformVariable, inlineRedrive: boolean) => {
    const q = new SqsQueue(stack, id, {
      name: `${prefix.stringValue}-${id.replace('_queue', '')}`,
      messageRetentionSeconds: Queueing.RETENTION_S,
      visibilityTimeoutSeconds: Token.asNumber(Op.mul(timeout.numberValue, Queueing.VISIBILITY_TIMEOUT_PER_FUNCTION_TIMEOUT)),
      ...(inlineRedrive ? { redrivePolicy: `{"deadLetterTargetArn":"${deadLetters.arn}","maxReceiveCount":${maxReceiveCount.numberValue}}` } : {}),
    });
    q.overrideLogicalId(id);
    if (!inlineRedrive) {
      new SqsQueueRedrivePolicy(stack, `${id}_redrive`, {
        queueUrl: q.url,
        redrivePolicy: Fn.jsonencode({ deadLetterTargetArn: deadLetters.arn, maxReceiveCount: maxReceiveCount.numberValue }),
      });
    }
    return q;
  };
  const prepareQueue = queue('prepare_queue', prepareTimeout, true);
  const generateQueue = queue('generate_queue', generateTimeout, !options.separateRedrive);
  new S3BucketNotification(stack, 'input_notification', { bucket: input.id, queue: [{ queueArn: prepareQueue.arn, events: ['s3:ObjectCreated:*'] }] }).overrideLogicalId('input');
  new S3BucketNotification(stack, 'staging_notification', {
    bucket: staging.id,
    queue: [{ queueArn: generateQueue.arn, events: ['s3:ObjectCreated:*'], filterPrefix: 'jobs/', filterSuffix: '/job.json' }],
  }).overrideLogicalId('staging');
  const mapping = (id: string, target: LambdaFunction, q: SqsQueue, batchSize: number, max: TerraformVariable) =>
    new LambdaEventSourceMapping(stack, `${id}_mapping`, {
      functionName: target.arn,
      eventSourceArn: q.arn,
      batchSize,
      functionResponseTypes: ['ReportBatchItemFailures'],
      scalingConfig: { maximumConcurrency: max.numberValue },
    }).overrideLogicalId(id);
  mapping('prepare_queue', prepare, prepareQueue, Queueing.PREPARE_BATCH_SIZE, prepareMax);
  if (!options.withoutGenerateMapping) mapping('generate_queue', generate, generateQueue, Queueing.GENERATE_BATCH_SIZE, callsInFlight);
  app.synth();
  return JSON.parse(readFileSync(join(outdir, 'stacks', 'fixture', 'cdk.tf.json'), 'utf8'));
};

describe('local wiring: queues, notifications and event source mappings from cdk.tf.json', function () {
  this.timeout(60_000);
  let dir: string;
  let fixture: Json;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'icp-wiring-'));
    fixture = synthesizeFixture(join(dir, 'a'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('reads each queue: name, visibility timeout (6 × the function timeout, evaluated), retention, redrive policy', () => {
    const wiring = wiringFrom(fixture, { bucketSuffix: 'local' });
    expect(wiring.region).to.equal('eu-west-1');
    expect(Object.keys(wiring.queues).sort()).to.deep.equal(['dead_letters', 'generate_queue', 'prepare_queue']);
    expect(wiring.queues.prepare_queue).to.deep.include({
      name: 'icp-prepare',
      arn: 'arn:aws:sqs:eu-west-1:000000000000:icp-prepare',
      visibilityTimeoutS: 360,
      retentionS: 1_209_600,
      redrive: { deadLetterQueueId: 'dead_letters', maxReceiveCount: 5 },
    });
    expect(wiring.queues.generate_queue).to.deep.include({ visibilityTimeoutS: 720, redrive: { deadLetterQueueId: 'dead_letters', maxReceiveCount: 5 } });
    expect(wiring.queues.dead_letters!.redrive).to.equal(undefined);
    expect(wiring.queues.dead_letters!.visibilityTimeoutS, "SQS's default").to.equal(30);
  });

  it('evaluates the expressions with the variables given, as -var would', () => {
    const wiring = wiringFrom(fixture, { bucketSuffix: 'local', variableOverrides: { generate_timeout_s: 300, max_receive_count: 2, max_model_calls_in_flight: 7, name_prefix: 'me' } });
    expect(wiring.queues.generate_queue).to.deep.include({ name: 'me-generate', visibilityTimeoutS: 1800, redrive: { deadLetterQueueId: 'dead_letters', maxReceiveCount: 2 } });
    expect(wiring.eventSourceMappings.find((m) => m.functionId === 'generate')!.maximumConcurrency).to.equal(7);
    expect(wiring.functions.generate!.environment.MAX_RECEIVE_COUNT).to.equal('2');
    expect(wiring.buckets.input).to.equal('me-input-local');
  });

  it('reads the bucket notifications to queues, with their filters', () => {
    const wiring = wiringFrom(fixture, { bucketSuffix: 'local' });
    expect(wiring.notifications).to.have.deep.members([
      { bucketId: 'input', queueId: 'prepare_queue', events: ['s3:ObjectCreated:*'], prefix: '', suffix: '' },
      { bucketId: 'staging', queueId: 'generate_queue', events: ['s3:ObjectCreated:*'], prefix: 'jobs/', suffix: '/job.json' },
    ]);
    const staging = wiring.notifications.find((n) => n.bucketId === 'staging')!;
    expect(matches(staging, 'staging', 'ObjectCreated:Put', 'jobs/abc/job.json')).to.equal(true);
    expect(matches(staging, 'staging', 'ObjectCreated:Put', 'claims/abc/job.json')).to.equal(false);
    expect(matches(staging, 'staging', 'ObjectCreated:Put', 'jobs/abc/edges.png')).to.equal(false);
  });

  it('reads the event source mappings: function, queue, batch size, maximum concurrency, response types', () => {
    const wiring = wiringFrom(fixture, { bucketSuffix: 'local' });
    expect(wiring.eventSourceMappings).to.have.deep.members([
      { id: 'prepare_queue', functionId: 'prepare', queueId: 'prepare_queue', batchSize: 5, maximumConcurrency: 10, maximumBatchingWindowS: 0, functionResponseTypes: ['ReportBatchItemFailures'], enabled: true },
      { id: 'generate_queue', functionId: 'generate', queueId: 'generate_queue', batchSize: 1, maximumConcurrency: 4, maximumBatchingWindowS: 0, functionResponseTypes: ['ReportBatchItemFailures'], enabled: true },
    ]);
    expect(() => checkPipelineWiring(wiring, { buckets: ['input', 'staging', 'output'], functions: ['prepare', 'generate'] })).not.to.throw();
  });

  it('reads a redrive policy written with jsonencode() in an aws_sqs_queue_redrive_policy', () => {
    const wiring = wiringFrom(synthesizeFixture(join(dir, 'b'), { separateRedrive: true }), { bucketSuffix: 'local', variableOverrides: { max_receive_count: 3 } });
    expect(wiring.queues.generate_queue!.redrive).to.deep.equal({ deadLetterQueueId: 'dead_letters', maxReceiveCount: 3 });
  });

  it('fails clearly when a piece is missing or points nowhere', () => {
    const without = wiringFrom(synthesizeFixture(join(dir, 'c'), { withoutGenerateMapping: true }), { bucketSuffix: 'local' });
    expect(() => checkPipelineWiring(without, { buckets: ['input'], functions: ['generate'] })).to.throw(/no aws_lambda_event_source_mapping for function "generate"/);

    const broken = structuredClone(fixture);
    broken.resource.aws_lambda_event_source_mapping.generate_queue.event_source_arn = '${aws_sqs_queue.nowhere.arn}';
    expect(() => wiringFrom(broken, { bucketSuffix: 'local' })).to.throw(/aws_lambda_event_source_mapping\.generate_queue\.event_source_arn: unknown queue nowhere/);

    const unset = structuredClone(fixture);
    delete unset.variable.max_receive_count.default;
    expect(() => wiringFrom(unset, { bucketSuffix: 'local' })).to.throw(/variable max_receive_count has no default and no local value/);

    const strange = structuredClone(fixture);
    strange.resource.aws_sqs_queue.prepare_queue.visibility_timeout_seconds = '${lookup(var.x, "y")}';
    expect(() => wiringFrom(strange, { bucketSuffix: 'local' })).to.throw(/aws_sqs_queue\.prepare_queue\.visibility_timeout_seconds: the local run cannot evaluate/);

    const noQueueNotification = structuredClone(fixture);
    delete noQueueNotification.resource.aws_s3_bucket_notification.input;
    expect(() => checkPipelineWiring(wiringFrom(noQueueNotification, { bucketSuffix: 'local' }), { buckets: [], functions: ['prepare'] })).to.throw(
      /No aws_s3_bucket_notification sends to aws_sqs_queue\.prepare_queue/,
    );
  });

  it('reads the same wiring from the synthesized stack (npm run synth)', function () {
    const path = join(ROOT, STACK_JSON);
    if (!existsSync(path)) this.skip();
    const tf = JSON.parse(readFileSync(path, 'utf8')) as Json;
    if (!tf.resource?.aws_lambda_event_source_mapping) {
      // Pending until the stack's change (S3 → SQS → Lambda) is synthesized.
      this.skip();
    }
    const wiring = wiringFrom(tf, { bucketSuffix: 'local' });
    checkPipelineWiring(wiring, { buckets: ['input', 'staging', 'output'], functions: ['prepare', 'generate'] });
    const prepare = wiring.eventSourceMappings.find((m) => m.functionId === 'prepare')!;
    const generate = wiring.eventSourceMappings.find((m) => m.functionId === 'generate')!;
    expect(prepare).to.deep.include({ queueId: 'prepare_queue', batchSize: Queueing.PREPARE_BATCH_SIZE, functionResponseTypes: ['ReportBatchItemFailures'] });
    expect(generate).to.deep.include({ queueId: 'generate_queue', batchSize: Queueing.GENERATE_BATCH_SIZE, functionResponseTypes: ['ReportBatchItemFailures'] });
    expect(generate.maximumConcurrency).to.equal(Number(wiring.variables.max_model_calls_in_flight));
    expect(prepare.maximumConcurrency).to.equal(Number(wiring.variables.prepare_max_concurrency));
    for (const [queueId, fn] of [['prepare_queue', 'prepare'], ['generate_queue', 'generate']] as const) {
      expect(wiring.queues[queueId]).to.deep.include({
        visibilityTimeoutS: Queueing.VISIBILITY_TIMEOUT_PER_FUNCTION_TIMEOUT * wiring.functions[fn]!.timeoutS,
        retentionS: Queueing.RETENTION_S,
        redrive: { deadLetterQueueId: 'dead_letters', maxReceiveCount: Number(wiring.variables.max_receive_count) },
      });
    }
    expect(wiring.notifications).to.have.deep.members([
      { bucketId: 'input', queueId: 'prepare_queue', events: ['s3:ObjectCreated:*'], prefix: '', suffix: '' },
      { bucketId: 'staging', queueId: 'generate_queue', events: ['s3:ObjectCreated:*'], prefix: 'jobs/', suffix: '/job.json' },
    ]);
    expect(wiring.functions.generate!.reservedConcurrency, 'the mapping caps generate, not a reservation').to.equal(undefined);
  });
});
