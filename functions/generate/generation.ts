import { setTimeout as sleep } from 'node:timers/promises';
import { InvokeFailed, type Bedrock } from '../aws/bedrock';
import type { HeldClaim } from '../aws/claims';
import type { StagedPictures } from '../aws/staged-pictures';
import { CallBudget, keptAnswerStands, type KeptAnswer } from '../core/claim';
import { PipelineError, toFailureReport } from '../core/errors';
import type { ReadyJob } from '../core/job';
import { ConditioningInput, type GeneratedImages, type ModelCall } from '../core/models/adapter';
import type { CallResult, Generation } from '../core/outcome';
import { seedFor } from '../core/seed';
import type { GenerateConfig } from './config';

const NOTHING: GeneratedImages = { images: [], blocked: 0 };

/**
 * Makes a job's model calls. Each call first looks for an answer kept by an
 * earlier invocation; a call that is made keeps its answer — pictures, or a
 * permanent failure such as a moderation block — before anything else is
 * written, so no later failure can make a retry pay for it again. A transient
 * failure (throttling that outlasted the SDK's retries, a timeout, a 5xx) fails
 * the whole invocation for the delivery to be retried; the calls already
 * answered stay kept.
 */
export const generate = async (
  job: ReadyJob,
  pictures: StagedPictures,
  claim: HeldClaim,
  config: GenerateConfig,
  bedrock: Bedrock,
  deadline: AbortSignal | undefined,
): Promise<Generation> => {
  const started = performance.now();
  if (job.modelId !== config.modelId) {
    throw new PipelineError('MODEL_UNAVAILABLE', `The job was prepared for ${job.modelId} but generate is configured for ${config.modelId}; upload the picture again`);
  }
  const { adapter } = config;
  const edgesIn = adapter.conditioningInput === ConditioningInput.EDGES;
  const image = await (edgesIn ? pictures.edges() : pictures.photo());
  if (!image) {
    const key = edgesIn ? pictures.keys.edges : pictures.keys.conditioning;
    throw new PipelineError('SOURCE_MISSING', `s3://${pictures.bucket}/${key} no longer exists`);
  }

  const sequencer = job.source.sequencer;
  const seeds = Array.from({ length: job.parameters.count }, (_, i) => seedFor(job.jobId, i, adapter.limits.seedMax, job.parameters.seed));
  const calls = adapter.calls(job.parameters, job.conditioning.size, image.bytes, seeds);
  const budget = new CallBudget(config.maxModelCallsPerJob, claim.claim.modelCalls, config.modelMaxAttempts);

  const callOnce = async (call: ModelCall, index: number): Promise<CallResult> => {
    const kept = claim.mayHaveKeptAnswers ? await claim.keptAnswer(index) : undefined;
    if (kept && keptAnswerStands(kept, sequencer)) return resultOf(call, kept, { kept: true, attempts: 0, ms: 0 });
    const callStarted = performance.now();
    try {
      budget.reserve();
    } catch (error) {
      // Nothing was paid, so nothing is kept: a later upload may try again.
      return resultOf(call, { generated: NOTHING, failure: toFailureReport(error as PipelineError), sequencer }, { kept: false, attempts: 0, ms: 0 });
    }
    await claim.meter(budget.committed);
    const spentBefore = budget.committed - config.modelMaxAttempts;
    let answer: KeptAnswer;
    try {
      const invocation = await bedrock.invoke(config.modelId, call.body, deadline);
      budget.settle(invocation.attempts);
      answer = { generated: adapter.parseResponse(invocation.body, call), sequencer, ...standInNote(invocation.body) };
    } catch (error) {
      if (error instanceof InvokeFailed) budget.settle(error.attempts);
      const failure = error instanceof InvokeFailed ? error.failure : error;
      if (!(failure instanceof PipelineError) || !failure.permanent) throw failure;
      const blocked = failure.reason === 'CONTENT_FILTERED' ? call.images : 0;
      answer = { generated: { images: [], blocked }, failure: toFailureReport(failure), sequencer };
    }
    await claim.keep(index, answer);
    const ms = performance.now() - callStarted;
    // Pacing: no execution starts calls faster than one per MIN_MODEL_CALL_MS, which bounds calls (and spend) per hour.
    if (ms < config.minModelCallMs) await sleep(config.minModelCallMs - ms);
    return resultOf(call, answer, { kept: false, attempts: budget.committed - spentBefore, ms: Math.round(ms) });
  };

  try {
    // One call at a time: the executions of generate are then the calls in flight, capped by the queue's maximum concurrency.
    const results: CallResult[] = [];
    for (const [index, call] of calls.entries()) results.push(await callOnce(call, index));
    return {
      modelId: config.modelId,
      family: adapter.family,
      unusedParameters: adapter.unusedParameters,
      calls: results,
      modelCalls: budget.committed,
      timings: { totalMs: Math.round(performance.now() - started) },
    };
  } finally {
    // Calls that used fewer attempts than they reserved give the rest back, with the claim's last write.
    claim.settle(budget.committed);
  }
};

/** A local stand-in says so in every answer; the outcome passes it on, so no one mistakes its pictures for a model's. */
const standInNote = (body: unknown): { standIn?: string } => {
  const note = (body as { standIn?: unknown } | null)?.standIn;
  return typeof note === 'string' ? { standIn: note } : {};
};

const resultOf = (call: ModelCall, kept: KeptAnswer, how: { kept: boolean; attempts: number; ms: number }): CallResult => ({
  seed: call.seed,
  requested: call.images,
  images: kept.generated.images,
  ...(kept.generated.seeds ? { seeds: kept.generated.seeds } : {}),
  blocked: kept.generated.blocked,
  ...(kept.failure ? { failure: kept.failure } : {}),
  ...(kept.standIn ? { standIn: kept.standIn } : {}),
  ...how,
});
