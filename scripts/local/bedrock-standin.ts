/**
 * A local stand-in for the Amazon Bedrock Runtime `InvokeModel` API, for the image models this
 * pipeline drives. It never generates anything: every answer says it comes from a stand-in
 * (header `x-standin`, and a `standIn` field in every JSON body). What it does do:
 *
 * - speaks cleartext HTTP/2 (prior knowledge) like the SDK's default Node handler expects, so the
 *   real `@aws-sdk/client-bedrock-runtime` can be pointed at it unchanged, either with
 *   `AWS_ENDPOINT_URL_BEDROCK_RUNTIME=<endpoint>` or `endpoint` in the client config;
 * - answers model ids, regions and lifecycle like the real service (see bedrock-schemas.ts);
 * - validates every body strictly against the contract in /work/shared/docs/bedrock-models.md,
 *   including the input images (decoded with sharp), and answers with the real error shape
 *   (status, `x-amzn-errortype`, `{"message": …}`) so the SDK raises the real exception classes;
 * - returns a deterministic picture derived from the conditioning image (its bright lines drawn
 *   in ink on a paper-coloured background, tinted per image), at the requested size;
 * - records every call (`calls`, with its arrival and answer times, so a test can compute how
 *   many calls were in flight at once: see {@link peakCallsInFlight}) and injects faults
 *   (`faults` / `setFaults`).
 *
 * Content-filter trigger words (in `text` / `prompt` only): see CONTENT_FILTER_TRIGGER and
 * OUTPUT_FILTER_TRIGGER.
 *
 * Run on its own: `npx tsx scripts/local/bedrock-standin.ts [--port 4599] [--region us-east-1]
 * [--answer-retired-models] [--faults '<json Fault[]>']`, then export the printed
 * AWS_ENDPOINT_URL_BEDROCK_RUNTIME.
 */
import { listenOnLoopback } from './loopback';
import { createHash } from 'node:crypto';
import http2 from 'node:http2';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';

import {
  MESSAGES,
  checkConditionSize,
  checkImage,
  decodeBase64,
  familyOf,
  malformedMessage,
  needsOpacityCheck,
  promptTrigger,
  resolveModel,
  validateRequest,
  type ErrorTypeName,
  type ImageField,
  type ImageFormat,
  type ImageInfo,
  type ServiceError,
  type StabilityRequest,
  type TitanNovaRequest,
} from './bedrock-schemas';

export { CONTENT_FILTER_TRIGGER, OUTPUT_FILTER_TRIGGER, MODEL_IDS } from './bedrock-schemas';
export type { ErrorTypeName, ModelFamily } from './bedrock-schemas';

/** Said by every answer, in the `x-standin` header and the `standIn` body field. */
export const STAND_IN_NOTE = 'local Bedrock stand-in, no model was called';

// ---------------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------------

/** Status codes a `status` fault can answer with, and the exception each one raises in the SDK. */
export const FAULT_STATUS_ERRORS = {
  403: { type: 'AccessDeniedException', message: "You don't have access to the model with the specified model ID." },
  408: { type: 'ModelTimeoutException', message: 'Model has timed out in processing the request. Try your request again.' },
  424: { type: 'ModelErrorException', message: 'The model encountered an error while processing the request.' },
  429: { type: 'ModelNotReadyException', message: 'Model is not ready to serve inference requests. Try your request again.' },
  500: { type: 'InternalServerException', message: 'The system encountered an unexpected error during processing. Try your request again.' },
  503: { type: 'ServiceUnavailableException', message: 'Bedrock is unable to process your request.' },
} as const satisfies Record<number, { type: ErrorTypeName; message: string }>;

export type FaultStatus = keyof typeof FAULT_STATUS_ERRORS;

interface FaultBase {
  /** How many calls this fault answers (or delays) before it is used up. Infinity is allowed. @default 1 */
  times?: number;
  /** Only calls to this model id (as sent, decoded) use this fault. @default every model */
  modelId?: string;
}

/**
 * Injected before model resolution and validation. For each call the list is scanned in order:
 * a `delay` that still has uses waits and the scan goes on; the first other fault that still
 * has uses answers the call. Each use counts one down.
 */
export type Fault =
  /** 429 ThrottlingException "Too many requests, please wait before trying again." (the SDK retries it). */
  | (FaultBase & { kind: 'throttle'; retryAfterSeconds?: number })
  /** An error answer by status: 403, 408, 424, 429 (ModelNotReady), 500, 503 (see FAULT_STATUS_ERRORS). */
  | (FaultBase & { kind: 'status'; status: FaultStatus; message?: string })
  /** Wait `ms` before going on (to trip client timeouts). */
  | (FaultBase & { kind: 'delay'; ms: number })
  /**
   * The model's throughput: calls pass at most `callsPerSecond` a second, in the order they get
   * here, each waiting for its turn before going on. After a `delay`, the two make a model that
   * takes that long per call and whose capacity, not the caller, sets the pace.
   */
  | (FaultBase & { kind: 'quota'; callsPerSecond: number })
  /** Blocked input: Titan/Nova 400 ValidationException; Stability 200 with finish_reasons ["Filter reason: prompt"]. */
  | (FaultBase & { kind: 'content-filter' })
  /** 404 ResourceNotFoundException "This model version has reached the end of its life…", whatever the model. */
  | (FaultBase & { kind: 'end-of-life' })
  /** The model failed: Stability 200 with finish_reasons ["Inference error"]; Titan/Nova 424 ModelErrorException. */
  | (FaultBase & { kind: 'inference-error' });

export type FaultKind = Fault['kind'];

const checkFaults = (faults: readonly Fault[]): void => {
  for (const fault of faults) {
    const times = fault.times ?? 1;
    if (!(times === Infinity || (Number.isInteger(times) && times >= 1))) {
      throw new TypeError(`Fault ${fault.kind}: times must be a positive integer or Infinity, got ${times}`);
    }
    if (fault.kind === 'delay' && !(Number.isFinite(fault.ms) && fault.ms >= 0)) {
      throw new TypeError(`Fault delay: ms must be a finite number ≥ 0, got ${fault.ms}`);
    }
    if (fault.kind === 'quota' && !(Number.isFinite(fault.callsPerSecond) && fault.callsPerSecond > 0)) {
      throw new TypeError(`Fault quota: callsPerSecond must be a finite number > 0, got ${fault.callsPerSecond}`);
    }
    if (fault.kind === 'status' && !Object.hasOwn(FAULT_STATUS_ERRORS, fault.status)) {
      throw new TypeError(`Fault status: status must be one of ${Object.keys(FAULT_STATUS_ERRORS).join(', ')}, got ${fault.status}`);
    }
  }
};

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

export interface StandInOptions {
  /**
   * Answer Titan v2 / Nova Canvas as if still available. By default they answer like the real
   * service after end of life (ResourceNotFoundException "This model version has reached the end
   * of its life...").
   * @default false
   */
  answerRetiredModels?: boolean;
  /** Region this endpoint pretends to be, for "not offered in region" answers. @default 'us-east-1' */
  region?: string;
  /** Fault injection, applied in order before model resolution and validation. @default [] */
  faults?: Fault[];
}

/** A base64 image as recorded: never the bytes themselves. */
export interface RecordedImage {
  /** Decoded size; null when the string is not valid base64. */
  readonly bytes: number | null;
  /** sha256 (hex) of the decoded bytes; null when the string is not valid base64. */
  readonly sha256: string | null;
  /** sharp's format name (png, jpeg, webp, …); null when undecodable. */
  readonly format: string | null;
  readonly width: number | null;
  readonly height: number | null;
  readonly channels: number | null;
  readonly hasAlpha: boolean | null;
  /** Length of the base64 string. */
  readonly chars: number;
}

export interface RecordedCall {
  /** 1-based arrival order. */
  readonly seq: number;
  readonly method: string;
  readonly path: string;
  /** Decoded model id (or ARN) from the path; null when the route is not InvokeModel. */
  readonly modelId: string | null;
  readonly contentType: string | null;
  readonly accept: string | null;
  /**
   * The parsed JSON body with every base64 image (`textToImageParams.conditionImage`, `image`)
   * replaced by a RecordedImage; undefined when the body is not JSON.
   */
  readonly body: unknown;
  readonly bodyBytes: number;
  /** HTTP status answered; null while the call is still being answered. */
  readonly status: number | null;
  /** `x-amzn-errortype` answered, null on success. */
  readonly errorType: ErrorTypeName | null;
  /** The error message, or the `error` / `finish_reasons[0]` of a 200 answer. */
  readonly message: string | null;
  /** The injected fault that answered this call (a delay is noted only when nothing else answered). */
  readonly fault: FaultKind | null;
  /** How many images the answer carried. */
  readonly imagesReturned: number;
  /** False when the client had gone (e.g. timed out) before the answer could be written. */
  readonly delivered: boolean | null;
  /** When the request arrived (ms since the epoch, Date.now()). */
  readonly startedAt: number;
  /** When the answer was written (or given up on); null while the call is still being answered. */
  readonly endedAt: number | null;
}

/**
 * The most calls that were being answered at the same moment: from each call's arrival to its
 * answer (a call still unanswered counts as running until now). A call that ends at the instant
 * another starts does not overlap it.
 */
export const peakCallsInFlight = (calls: readonly RecordedCall[]): number => {
  const now = Date.now();
  const edges = calls.flatMap((call) => [
    { at: call.startedAt, delta: 1 },
    { at: call.endedAt ?? now, delta: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let running = 0;
  let peak = 0;
  for (const edge of edges) peak = Math.max(peak, (running += edge.delta));
  return peak;
};

export interface StandIn {
  /** `http://127.0.0.1:<port>`: use as `endpoint` or AWS_ENDPOINT_URL_BEDROCK_RUNTIME. */
  readonly endpoint: string;
  /** Every call, in arrival order. */
  readonly calls: readonly RecordedCall[];
  /** Replace the fault list (counters start afresh). */
  setFaults(faults: Fault[]): void;
  /** Forget the recorded calls. */
  clearCalls(): void;
  /** Stop listening, drop open connections and cancel pending delays. */
  close(): Promise<void>;
}

type MutableCall = { -readonly [K in keyof RecordedCall]: RecordedCall[K] };

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
  errorType: ErrorTypeName | null;
  message: string | null;
  imagesReturned: number;
}

const errorAnswer = (error: ServiceError, extraHeaders: Record<string, string> = {}): Answer => ({
  status: error.status,
  headers: { 'x-amzn-errortype': error.type, ...extraHeaders },
  body: JSON.stringify({ message: error.message, standIn: STAND_IN_NOTE }),
  errorType: error.type,
  message: error.message,
  imagesReturned: 0,
});

const validationError = (message: string): ServiceError => ({ status: 400, type: 'ValidationException', message });

const okAnswer = (body: Record<string, unknown>, imagesReturned: number, message: string | null): Answer => ({
  status: 200,
  headers: {},
  body: JSON.stringify({ ...body, standIn: STAND_IN_NOTE }),
  errorType: null,
  message,
  imagesReturned,
});

const sha256 = (data: string | Uint8Array): Buffer => createHash('sha256').update(data).digest();

export async function startBedrockStandIn(options: StandInOptions & { port?: number } = {}): Promise<StandIn> {
  const region = options.region ?? 'us-east-1';
  const answerRetiredModels = options.answerRetiredModels ?? false;
  let faults: { fault: Fault; left: number }[] = [];
  const setFaults = (list: Fault[]): void => {
    checkFaults(list);
    faults = list.map((fault) => ({ fault, left: fault.times ?? 1 }));
  };
  setFaults(options.faults ?? []);

  const calls: MutableCall[] = [];
  let seq = 0;
  const sessions = new Set<http2.ServerHttp2Session>();
  const pendingDelays = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  let closing = false;

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          pendingDelays.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      pendingDelays.add(entry);
    });

  /** When the quota lets the next call through (ms since the epoch). */
  let nextTurn = 0;
  /** Takes the next turn under a quota: how long this call waits for it. */
  const waitForTurn = (callsPerSecond: number): number => {
    const now = Date.now();
    const turn = Math.max(now, nextTurn);
    nextTurn = turn + 1000 / callsPerSecond;
    return turn - now;
  };
  /** The first fault that answers this call, after running the delays and quotas in front of it. */
  const takeFault = async (modelId: string): Promise<{ answer: Exclude<Fault, { kind: 'delay' | 'quota' }> | null; delayed: 'delay' | 'quota' | null }> => {
    let delayed: 'delay' | 'quota' | null = null;
    for (const entry of faults) {
      if (entry.left <= 0 || (entry.fault.modelId !== undefined && entry.fault.modelId !== modelId)) continue;
      entry.left -= 1;
      if (entry.fault.kind === 'delay' || entry.fault.kind === 'quota') {
        delayed = entry.fault.kind;
        await sleep(entry.fault.kind === 'delay' ? entry.fault.ms : waitForTurn(entry.fault.callsPerSecond));
        if (closing) break;
        continue;
      }
      return { answer: entry.fault, delayed };
    }
    return { answer: null, delayed };
  };

  const answerCall = async (call: MutableCall, modelId: string, raw: Buffer, body: unknown): Promise<Answer> => {
    const fault = await takeFault(modelId);
    if (fault.answer) {
      call.fault = fault.answer.kind;
      return faultAnswer(fault.answer, modelId, raw, body);
    }
    if (fault.delayed) call.fault = fault.delayed;
    if (closing) return errorAnswer({ status: 503, type: 'ServiceUnavailableException', message: 'The stand-in is shutting down.' });

    const resolution = resolveModel(modelId, { region, answerRetiredModels });
    if (!resolution.ok) return errorAnswer(resolution.error);
    if (body === undefined) return errorAnswer(validationError(MESSAGES.malformedJson));

    const validation = validateRequest(resolution.family, body);
    if (!validation.ok) return errorAnswer(validationError(malformedMessage(validation.violation)));
    const request = validation.request;

    const image = request.family === 'stability' ? request.image : request.conditionImage;
    let info: ImageInfo | null = null;
    if (image) {
      info = await inspectImage(image);
      const violation = checkImage(image, info);
      if (violation) return errorAnswer(validationError(malformedMessage(violation)));
    }
    if (request.family === 'stability') {
      if (!info) throw new Error('unreachable: Stability requests always carry an image');
      return answerStability(request, info, raw);
    }
    if (info) {
      const violation = checkConditionSize(request, info);
      if (violation) return errorAnswer(validationError(malformedMessage(violation)));
    }
    return answerTitanNova(request, resolution.id);
  };

  const handle = async (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): Promise<void> => {
    const startedAt = Date.now();
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const url = req.url ?? '/';
    const path = url.split('?')[0] ?? '/';
    const match = /^\/model\/([^/]+)\/invoke$/.exec(path);
    let modelId: string | null = null;
    if (match && req.method === 'POST') {
      try {
        modelId = decodeURIComponent(match[1] ?? '');
      } catch {
        modelId = match[1] ?? '';
      }
    }
    let body: unknown;
    try {
      body = raw.length > 0 ? JSON.parse(raw.toString('utf8')) : undefined;
    } catch {
      body = undefined;
    }
    const header = (name: string): string | null => {
      const value = req.headers[name];
      return typeof value === 'string' ? value : null;
    };
    const call: MutableCall = {
      seq: ++seq,
      method: req.method,
      path,
      modelId,
      contentType: header('content-type'),
      accept: header('accept'),
      body: body === undefined ? undefined : await summariseBody(body),
      bodyBytes: raw.length,
      status: null,
      errorType: null,
      message: null,
      fault: null,
      imagesReturned: 0,
      delivered: null,
      startedAt,
      endedAt: null,
    };
    calls.push(call);

    let answer: Answer;
    if (modelId === null) {
      answer = errorAnswer({
        status: 404,
        type: 'UnknownOperationException',
        message: `The local Bedrock stand-in implements only POST /model/{modelId}/invoke, not ${req.method} ${path}.`,
      });
    } else {
      try {
        answer = await answerCall(call, modelId, raw, body);
      } catch (error) {
        answer = errorAnswer({
          status: 500,
          type: 'InternalServerException',
          message: `The local Bedrock stand-in failed: ${error instanceof Error ? error.message : String(error)}`,
        });
      }
    }
    call.status = answer.status;
    call.errorType = answer.errorType;
    call.message = answer.message;
    call.imagesReturned = answer.imagesReturned;
    call.delivered = send(res, answer);
    call.endedAt = Date.now();
  };

  const server = http2.createServer();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('error', () => undefined);
  });
  server.on('request', (req, res) => {
    handle(req, res).catch(() => {
      if (!res.stream.destroyed) res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    });
  });
  const endpoint = await listenOnLoopback(server, options.port);

  return {
    endpoint,
    calls,
    setFaults,
    clearCalls: () => {
      calls.length = 0;
    },
    close: async () => {
      closing = true;
      for (const entry of pendingDelays) {
        clearTimeout(entry.timer);
        entry.resolve();
      }
      pendingDelays.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.destroy();
      await closed;
    },
  };
}

const send = (res: http2.Http2ServerResponse, answer: Answer): boolean => {
  if (res.stream.destroyed || res.stream.closed || res.headersSent) return false;
  const body = Buffer.from(answer.body, 'utf8');
  res.writeHead(answer.status, {
    'content-type': 'application/json',
    'content-length': String(body.length),
    'x-amzn-requestid': requestId(body),
    'x-standin': STAND_IN_NOTE,
    ...answer.headers,
  });
  res.end(body);
  return true;
};

/** A stable request id shaped like a UUID (answers are deterministic, so is this). */
const requestId = (body: Buffer): string => {
  const hex = sha256(body).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
};

// ---------------------------------------------------------------------------------------------
// Fault answers
// ---------------------------------------------------------------------------------------------

const faultAnswer = (fault: Exclude<Fault, { kind: 'delay' | 'quota' }>, modelId: string, raw: Buffer, body: unknown): Answer => {
  const family = familyOf(modelId);
  switch (fault.kind) {
    case 'throttle':
      return errorAnswer(
        { status: 429, type: 'ThrottlingException', message: 'Too many requests, please wait before trying again.' },
        fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {},
      );
    case 'status': {
      const known = FAULT_STATUS_ERRORS[fault.status];
      return errorAnswer({ status: fault.status, type: known.type, message: fault.message ?? known.message });
    }
    case 'end-of-life':
      return errorAnswer({ status: 404, type: 'ResourceNotFoundException', message: MESSAGES.endOfLife });
    case 'content-filter':
      if (family === 'stability') return stabilityFinished('Filter reason: prompt', stabilitySeed(body, raw));
      return errorAnswer(validationError(MESSAGES.inputBlocked));
    case 'inference-error':
      if (family === 'stability') return stabilityFinished('Inference error', stabilitySeed(body, raw));
      return errorAnswer({ status: 424, type: 'ModelErrorException', message: FAULT_STATUS_ERRORS[424].message });
  }
};

// ---------------------------------------------------------------------------------------------
// Successful (and 200-but-filtered) answers
// ---------------------------------------------------------------------------------------------

/** Seed reported by Stability: the requested one, or (0 / absent means random) one derived from the body. */
const stabilitySeed = (body: unknown, raw: Buffer): number => {
  const requested = typeof body === 'object' && body !== null ? (body as { seed?: unknown }).seed : undefined;
  if (typeof requested === 'number' && Number.isInteger(requested) && requested > 0 && requested <= 4_294_967_294) {
    return requested;
  }
  return (sha256(raw).readUInt32BE(0) % 4_294_967_294) + 1;
};

/** A Stability 200 that failed: `images: [null]` keeps the three arrays parallel (real shape unconfirmed). */
const stabilityFinished = (reason: string, seed: number): Answer =>
  okAnswer({ seeds: [seed], finish_reasons: [reason], images: [null] }, 0, reason);

const answerStability = async (request: StabilityRequest, info: ImageInfo, raw: Buffer): Promise<Answer> => {
  const seed = stabilitySeed({ seed: request.seed }, raw);
  const trigger = promptTrigger(request.prompt);
  if (trigger === 'input') return stabilityFinished('Filter reason: prompt', seed);
  if (trigger === 'output') return stabilityFinished('Filter reason: output image', seed);
  const mask = await inkMask(request.image.bytes, info.width, info.height);
  const picture = await renderPicture(mask, info.width, info.height, palette(`stability:${seed}`), request.outputFormat);
  return okAnswer({ seeds: [seed], finish_reasons: [null], images: [picture.toString('base64')] }, 1, null);
};

const answerTitanNova = async (request: TitanNovaRequest, modelId: string): Promise<Answer> => {
  const trigger = promptTrigger(request.text);
  if (trigger === 'input') return errorAnswer(validationError(MESSAGES.inputBlocked));
  const kept = trigger === 'output' ? Math.floor(request.numberOfImages / 2) : request.numberOfImages;
  const mask = request.conditionImage ? await inkMask(request.conditionImage.bytes, request.width, request.height) : null;
  const images: string[] = [];
  for (let index = 0; index < kept; index += 1) {
    const colours = palette(`${modelId}:${request.seed}:${index}`);
    const picture = await renderPicture(mask ?? hatchMask(request.width, request.height, colours.offset), request.width, request.height, colours, 'png');
    images.push(picture.toString('base64'));
  }
  let error: string | null = null;
  if (kept < request.numberOfImages) error = kept === 0 ? MESSAGES.allOutputsBlocked : MESSAGES.someOutputsBlocked;
  return okAnswer({ images, error }, images.length, error);
};

// ---------------------------------------------------------------------------------------------
// Pictures (sharp)
// ---------------------------------------------------------------------------------------------

interface Palette {
  paper: readonly [number, number, number];
  ink: readonly [number, number, number];
  offset: number;
}

/** Paper and ink colours, shifted a little by `key` (model, seed, image index). */
const palette = (key: string): Palette => {
  const h = sha256(key);
  const at = (i: number): number => h[i] ?? 0;
  return {
    paper: [230 + (at(0) % 22), 224 + (at(1) % 22), 204 + (at(2) % 22)],
    ink: [18 + (at(3) % 40), 22 + (at(4) % 40), 46 + (at(5) % 40)],
    offset: at(6),
  };
};

/**
 * Non-zero (255) where the conditioning image is bright (the edges of a Canny mask), 0 elsewhere,
 * at width×height. All in libvips (threshold: ≥ 128 is 255): no per-pixel JavaScript, and no
 * resize when the image already has the requested size (Stability: the output follows the input).
 */
const inkMask = async (source: Buffer, width: number, height: number): Promise<Uint8Array> => {
  let image = sharp(source).removeAlpha().toColourspace('b-w');
  const meta = await sharp(source).metadata();
  if (meta.width !== width || meta.height !== height) image = image.resize(width, height, { fit: 'fill' });
  const { data, info } = await image.threshold(128).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 1 || data.length !== width * height) throw new Error(`ink mask is ${info.width}×${info.height}×${info.channels}, expected ${width}×${height}×1`);
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
};

/** Without a conditioning image: thin diagonal hatching. */
const hatchMask = (width: number, height: number, offset: number): Uint8Array => {
  const mask = new Uint8Array(width * height);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) mask[y * width + x] = (x + y + offset) % 48 < 2 ? 1 : 0;
  }
  return mask;
};

/**
 * Paper everywhere (one native pattern fill), ink where the mask is set (a few percent of the
 * pixels for an edge mask), then one encode. PNG at zlib level 6 without adaptive filtering:
 * on these two-colour pictures it costs a few ms at a megapixel and keeps the answer (base64 in
 * JSON, kept by generate, published) about three times smaller than level 1.
 */
const renderPicture = async (mask: Uint8Array, width: number, height: number, colours: Palette, format: ImageFormat): Promise<Buffer> => {
  const rgb = Buffer.allocUnsafe(width * height * 3);
  rgb.fill(Uint8Array.from(colours.paper));
  const [r, g, b] = colours.ink;
  for (let i = 0; i < mask.length; i += 1) {
    if (mask[i] === 0) continue;
    const at = i * 3;
    rgb[at] = r;
    rgb[at + 1] = g;
    rgb[at + 2] = b;
  }
  const image = sharp(rgb, { raw: { width, height, channels: 3 } });
  switch (format) {
    case 'png':
      return image.png({ compressionLevel: 6, adaptiveFiltering: false }).toBuffer();
    case 'jpeg':
      return image.jpeg({ quality: 90 }).toBuffer();
    case 'webp':
      return image.webp({ quality: 90, effort: 0 }).toBuffer();
  }
};

// ---------------------------------------------------------------------------------------------
// Inspecting and recording images
// ---------------------------------------------------------------------------------------------

/** The facts checkImage needs; null when sharp cannot decode the bytes. */
const inspectImage = async (field: ImageField): Promise<ImageInfo | null> => {
  try {
    const meta = await sharp(field.bytes).metadata();
    const info: ImageInfo = {
      format: meta.format,
      width: meta.width,
      height: meta.height,
      channels: meta.channels,
      depth: meta.depth,
      space: meta.space,
      hasAlpha: meta.hasAlpha,
    };
    if (!needsOpacityCheck(field.rules, info)) return info;
    const stats = await sharp(field.bytes).stats();
    return { ...info, isOpaque: stats.isOpaque };
  } catch {
    return null;
  }
};

const recordImage = async (text: string): Promise<RecordedImage> => {
  const decoded = decodeBase64(text);
  const unknownImage = { format: null, width: null, height: null, channels: null, hasAlpha: null, chars: text.length };
  if (!decoded.ok) return { bytes: null, sha256: null, ...unknownImage };
  const digest = sha256(decoded.bytes).toString('hex');
  try {
    const meta = await sharp(decoded.bytes).metadata();
    return {
      bytes: decoded.bytes.length,
      sha256: digest,
      format: meta.format,
      width: meta.width,
      height: meta.height,
      channels: meta.channels,
      hasAlpha: meta.hasAlpha,
      chars: text.length,
    };
  } catch {
    return { bytes: decoded.bytes.length, sha256: digest, ...unknownImage };
  }
};

/** A copy of the body with the base64 images replaced by RecordedImage summaries. */
const summariseBody = async (body: unknown): Promise<unknown> => {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  const copy: Record<string, unknown> = structuredClone(body as Record<string, unknown>);
  if (typeof copy.image === 'string') copy.image = await recordImage(copy.image);
  const params = copy.textToImageParams;
  if (typeof params === 'object' && params !== null && !Array.isArray(params)) {
    const p = params as Record<string, unknown>;
    if (typeof p.conditionImage === 'string') p.conditionImage = await recordImage(p.conditionImage);
  }
  return copy;
};

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;

if (isMain) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '4599' },
      region: { type: 'string', default: 'us-east-1' },
      'answer-retired-models': { type: 'boolean', default: false },
      faults: { type: 'string' },
    },
  });
  const standIn = await startBedrockStandIn({
    port: Number(values.port),
    region: values.region,
    answerRetiredModels: values['answer-retired-models'],
    faults: values.faults ? (JSON.parse(values.faults) as Fault[]) : [],
  });
  console.log(`Bedrock Runtime stand-in (${STAND_IN_NOTE}) listening for region ${values.region}`);
  console.log(`export AWS_ENDPOINT_URL_BEDROCK_RUNTIME=${standIn.endpoint}`);
  const stop = (): void => {
    void standIn.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
