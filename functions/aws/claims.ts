import { GetObjectCommand, PutObjectCommand, S3ServiceException } from '@aws-sdk/client-s3';
import { answerKey, ClaimState, decodeKeptAnswer, encodeKeptAnswer, judgeExistingClaim, parseClaim, Verdict, type Claim } from '../core/claim';
import { PipelineError } from '../core/errors';
import type { GeneratedImages } from '../core/models/adapter';
import { readObject, s3, writeObject } from './s3';

const preconditionFailed = (error: unknown): boolean =>
  error instanceof S3ServiceException && (error.name === 'PreconditionFailed' || error.$metadata.httpStatusCode === 412);

const body = (claim: Claim): string => `${JSON.stringify(claim)}\n`;

export type Acquired = { readonly acquired: true; readonly claim: Claim } | { readonly acquired: false; readonly verdict: Verdict };

/**
 * Claims `key` for `owner` until `leaseUntil`: created with If-None-Match, or
 * taken over with If-Match on the ETag that was judged, so of two racers exactly
 * one wins either way.
 */
export const acquireClaim = async (bucket: string, key: string, owner: string, leaseUntil: Date, now: Date): Promise<Acquired> => {
  const fresh: Claim = { version: 1, state: ClaimState.RUNNING, owner, leaseUntil: leaseUntil.toISOString(), invocations: 1, modelCalls: 0, updatedAt: now.toISOString() };
  try {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body(fresh), ContentType: 'application/json', IfNoneMatch: '*' }));
    return { acquired: true, claim: fresh };
  } catch (error) {
    if (!preconditionFailed(error)) throw error;
  }
  const existing = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const claim = parseClaim(await existing.Body!.transformToString());
  const verdict = judgeExistingClaim(claim, now, owner);
  if (verdict !== Verdict.TAKE_OVER) return { acquired: false, verdict };
  const taken: Claim = { ...fresh, invocations: claim.invocations + 1, modelCalls: claim.modelCalls, ...(claim.answered ? { answered: claim.answered } : {}) };
  try {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body(taken), ContentType: 'application/json', IfMatch: existing.ETag }));
    return { acquired: true, claim: taken };
  } catch (error) {
    if (preconditionFailed(error)) return { acquired: false, verdict: Verdict.DUPLICATE_RUNNING };
    throw error;
  }
};

/** Records progress on a claim this invocation holds. */
export const updateClaim = async (bucket: string, key: string, claim: Claim): Promise<void> => {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body(claim), ContentType: 'application/json' }));
};

/** Keeps the answer to call `index` beside the claim: a retry of the job reads it instead of paying again. */
export const keepAnswer = (bucket: string, claimKey: string, index: number, generated: GeneratedImages): Promise<void> =>
  writeObject(bucket, answerKey(claimKey, index), encodeKeptAnswer(generated), 'application/json');

export const readKeptAnswer = async (bucket: string, claimKey: string, index: number): Promise<GeneratedImages> => {
  const kept = await readObject(bucket, answerKey(claimKey, index));
  if (!kept) throw new PipelineError('INVALID_JOB', `Kept answer ${index} changed while the job ran`);
  return decodeKeptAnswer(new TextDecoder().decode(kept.bytes));
};
