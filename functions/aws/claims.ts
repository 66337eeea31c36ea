import {
  answerKey,
  ClaimState,
  decodeKeptAnswer,
  encodeKeptAnswer,
  judgeExistingClaim,
  parseClaim,
  Verdict,
  type Claim,
  type KeptAnswer,
} from '../core/claim';
import { readIfExists, readVersioned, writeIf, writeObject } from './s3';

const body = (claim: Claim): string => `${JSON.stringify(claim)}\n`;

/** Racers for a free claim: each lost round means someone else took it, so a few rounds settle any burst. */
const TAKE_OVER_ROUNDS = 3;

/**
 * The claim lifecycle of one request, held by this invocation: read and keep
 * answers, meter the calls, then hand it back as done or released.
 */
export class HeldClaim {
  /** Claim writes in order: two calls in flight must not land an older claim last. */
  private writes: Promise<void> = Promise.resolve();

  constructor(
    readonly bucket: string,
    readonly key: string,
    private current: Claim,
  ) {}

  get claim(): Claim {
    return this.current;
  }

  /** A claim taken over from an earlier invocation may have answers kept beside it. */
  get mayHaveKeptAnswers(): boolean {
    return this.current.invocations > 1 || this.current.modelCalls > 0;
  }

  async keptAnswer(index: number): Promise<KeptAnswer | undefined> {
    const kept = await readIfExists(this.bucket, answerKey(this.key, index));
    return kept ? decodeKeptAnswer(new TextDecoder().decode(kept.bytes)) : undefined;
  }

  /** Keeps what call `index` ended with; a retry of the job reads it instead of paying again. */
  keep(index: number, kept: KeptAnswer): Promise<void> {
    return writeObject(this.bucket, answerKey(this.key, index), encodeKeptAnswer(kept), 'application/json');
  }

  /** Records the calls spent and reserved before a call: a crash mid-call must not hand the next invocation a fuller budget. */
  meter(modelCalls: number): Promise<void> {
    return this.record({ modelCalls });
  }

  /** The meter after the calls settled, written with the next change of state. */
  settle(modelCalls: number): void {
    this.current = { ...this.current, modelCalls };
  }

  done(): Promise<void> {
    return this.record({ state: ClaimState.DONE });
  }

  /** Given back so the retry of the delivery can take over at once. */
  release(): Promise<void> {
    return this.record({ state: ClaimState.RELEASED });
  }

  private record(change: Partial<Claim>): Promise<void> {
    this.writes = this.writes
      .catch(() => undefined)
      .then(async () => {
        this.current = { ...this.current, ...change, updatedAt: new Date().toISOString() };
        await writeObject(this.bucket, this.key, body(this.current), 'application/json');
      });
    return this.writes;
  }
}

export type Acquired = { readonly acquired: true; readonly held: HeldClaim } | { readonly acquired: false; readonly verdict: Verdict };

export interface ClaimRequest {
  readonly bucket: string;
  readonly key: string;
  readonly owner: string;
  /** The upload this invocation works for. */
  readonly sequencer: string;
  readonly leaseUntil: Date;
  readonly now: Date;
}

/**
 * Claims a request until `leaseUntil`: created with If-None-Match, or taken over
 * with If-Match on the ETag that was judged, so of two racers exactly one wins.
 */
export const acquireClaim = async (request: ClaimRequest): Promise<Acquired> => {
  const { bucket, key, owner, sequencer } = request;
  const fresh: Claim = {
    version: 1,
    state: ClaimState.RUNNING,
    owner,
    sequencer,
    leaseUntil: request.leaseUntil.toISOString(),
    invocations: 1,
    modelCalls: 0,
    updatedAt: request.now.toISOString(),
  };
  if ((await writeIf(bucket, key, body(fresh), { ifNoneMatch: true })) !== undefined) {
    return { acquired: true, held: new HeldClaim(bucket, key, fresh) };
  }
  // Judge what is there and take it over if free; losing that race to another taker means judging
  // again what the winner wrote (a duplicate of the same upload is then running, not busy).
  for (let round = 0; round < TAKE_OVER_ROUNDS; round++) {
    const existing = await readVersioned(bucket, key);
    // Gone between the two requests (expired): judge it as free on the next delivery.
    if (!existing) return { acquired: false, verdict: Verdict.BUSY };
    const claim = parseClaim(existing.text);
    const verdict = judgeExistingClaim(claim, request.now, owner, sequencer);
    if (verdict !== Verdict.TAKE_OVER) return { acquired: false, verdict };
    const taken: Claim = { ...fresh, invocations: claim.invocations + 1, modelCalls: claim.modelCalls };
    if ((await writeIf(bucket, key, body(taken), { ifMatch: existing.eTag })) !== undefined) {
      return { acquired: true, held: new HeldClaim(bucket, key, taken) };
    }
  }
  return { acquired: false, verdict: Verdict.BUSY };
};
