/**
 * Request rules for the local Bedrock Runtime stand-in (scripts/local/bedrock-standin.ts).
 *
 * Pure: no I/O, no sharp. Everything here follows /work/shared/docs/bedrock-models.md, which
 * is the contract: model ids, regions and lifecycle, each family's InvokeModel body schema, the
 * output size rules and the input image rules. The stand-in decodes images with sharp and
 * hands the facts it found (`ImageInfo`) back to `checkImage` here.
 *
 * This module deliberately does not import the pipeline's own model catalogue
 * (functions/core/models): the stand-in plays the service, so it keeps its own copy of the
 * facts and can catch the pipeline getting them wrong.
 *
 * Messages imitate the real service (Bedrock's JSON-schema validator):
 *   Malformed input request: #/textToImageParams/text: expected minLength: 1, actual: 0, please reformat your input and try again.
 * Only the first violation found is reported (the real service may list several).
 */

// ---------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------

export type ModelFamily = 'titan' | 'nova' | 'stability';

export const MODEL_IDS = {
  TITAN_V1: 'amazon.titan-image-generator-v1',
  TITAN_V2: 'amazon.titan-image-generator-v2:0',
  NOVA_CANVAS: 'amazon.nova-canvas-v1:0',
  CONTROL_SKETCH: 'us.stability.stable-image-control-sketch-v1:0',
  CONTROL_STRUCTURE: 'us.stability.stable-image-control-structure-v1:0',
  CONTROL_SKETCH_BASE: 'stability.stable-image-control-sketch-v1:0',
  CONTROL_STRUCTURE_BASE: 'stability.stable-image-control-structure-v1:0',
} as const;

export type Availability =
  /** Answers normally. */
  | 'active'
  /** Past end of life in the contract's time frame; answers only with `answerRetiredModels`. */
  | 'end-of-life'
  /** Retired long ago: always ResourceNotFoundException. */
  | 'retired'
  /** A foundation model reachable only through an inference profile. */
  | 'profile-only';

export interface ModelFacts {
  readonly family: ModelFamily;
  readonly regions: readonly string[];
  readonly availability: Availability;
  /** Inference profile ids (`us.…`) are addressed as inference-profile ARNs, the rest as foundation-model ARNs. */
  readonly profile: boolean;
}

const STABILITY_REGIONS = ['us-east-1', 'us-east-2', 'us-west-2'] as const;
const TITAN_REGIONS = ['us-east-1', 'us-west-2'] as const;

const MODELS: Readonly<Record<string, ModelFacts>> = {
  [MODEL_IDS.TITAN_V1]: { family: 'titan', regions: TITAN_REGIONS, availability: 'retired', profile: false },
  'amazon.titan-image-generator-v1:0': { family: 'titan', regions: TITAN_REGIONS, availability: 'retired', profile: false },
  [MODEL_IDS.TITAN_V2]: { family: 'titan', regions: TITAN_REGIONS, availability: 'end-of-life', profile: false },
  [MODEL_IDS.NOVA_CANVAS]: {
    family: 'nova',
    regions: ['us-east-1', 'eu-west-1', 'ap-northeast-1'],
    availability: 'end-of-life',
    profile: false,
  },
  [MODEL_IDS.CONTROL_SKETCH]: { family: 'stability', regions: STABILITY_REGIONS, availability: 'active', profile: true },
  [MODEL_IDS.CONTROL_STRUCTURE]: { family: 'stability', regions: STABILITY_REGIONS, availability: 'active', profile: true },
  [MODEL_IDS.CONTROL_SKETCH_BASE]: { family: 'stability', regions: STABILITY_REGIONS, availability: 'profile-only', profile: false },
  [MODEL_IDS.CONTROL_STRUCTURE_BASE]: { family: 'stability', regions: STABILITY_REGIONS, availability: 'profile-only', profile: false },
};

/**
 * What the contract says about a model id (not an ARN): family, regions, lifecycle. Shared with
 * the control-plane stand-in (bedrock-control-standin.ts) so both answer from one table.
 */
export const modelFacts = (modelId: string): ModelFacts | null => (Object.hasOwn(MODELS, modelId) ? MODELS[modelId] ?? null : null);

/** Every model id the stand-ins know. */
export const knownModelIds = (): string[] => Object.keys(MODELS);

/** The family a known model id (or ARN) belongs to, ignoring region and lifecycle. */
export const familyOf = (modelId: string): ModelFamily | null => {
  const id = parseModelReference(modelId)?.id ?? modelId;
  return MODELS[id]?.family ?? null;
};

export const MESSAGES = {
  invalidModel: 'The provided model identifier is invalid.',
  endOfLife: 'This model version has reached the end of its life. Please refer to the AWS documentation for more details.',
  onDemandUnsupported: (id: string): string =>
    // The real service writes a typographic apostrophe here.
    `Invocation of model ID ${id} with on-demand throughput isn\u2019t supported. Retry your request with the ID or ARN of an inference profile that contains this model.`,
  inputBlocked:
    'This request has been blocked by our content filters. Our filters automatically flagged this prompt because it may conflict our AUP or AWS Responsible AI Policy. Please adjust your text prompt to submit a new request.',
  someOutputsBlocked: 'Some of the generated images have been blocked by our content filters.',
  allOutputsBlocked: 'All of the generated images have been blocked by our content filters.',
  malformedJson: 'Malformed input request, please reformat your input and try again.',
} as const;

export type ErrorTypeName =
  | 'ValidationException'
  | 'AccessDeniedException'
  | 'ResourceNotFoundException'
  | 'ModelTimeoutException'
  | 'ModelErrorException'
  | 'ThrottlingException'
  | 'ModelNotReadyException'
  | 'InternalServerException'
  | 'ServiceUnavailableException'
  | 'UnknownOperationException';

export interface ServiceError {
  readonly status: number;
  readonly type: ErrorTypeName;
  readonly message: string;
}

export type ModelResolution =
  | { readonly ok: true; readonly id: string; readonly family: ModelFamily }
  | { readonly ok: false; readonly error: ServiceError };

const invalidModel = (): ModelResolution => ({
  ok: false,
  error: { status: 400, type: 'ValidationException', message: MESSAGES.invalidModel },
});

/** `arn:aws:bedrock:<region>:<account?>:(foundation-model|inference-profile)/<id>` → its parts. */
const parseModelReference = (reference: string): { id: string; region: string; kind: string } | null => {
  const match = /^arn:aws:bedrock:([a-z0-9-]+):(\d{12})?:(foundation-model|inference-profile)\/(.+)$/.exec(reference);
  if (!match) return null;
  return { region: match[1] ?? '', kind: match[3] ?? '', id: match[4] ?? '' };
};

/**
 * What the service would do with `modelId` (a decoded id or ARN) in `region`, before looking
 * at the body: the family to validate against, or the error it answers with.
 */
export const resolveModel = (modelId: string, options: { region: string; answerRetiredModels: boolean }): ModelResolution => {
  let id = modelId;
  const arn = parseModelReference(modelId);
  if (arn) {
    const facts = MODELS[arn.id];
    if (!facts || arn.region !== options.region) return invalidModel();
    if ((arn.kind === 'inference-profile') !== facts.profile) return invalidModel();
    id = arn.id;
  }
  const facts = MODELS[id];
  if (!facts || !facts.regions.includes(options.region)) return invalidModel();
  switch (facts.availability) {
    case 'retired':
      return { ok: false, error: { status: 404, type: 'ResourceNotFoundException', message: MESSAGES.endOfLife } };
    case 'profile-only':
      return { ok: false, error: { status: 400, type: 'ValidationException', message: MESSAGES.onDemandUnsupported(id) } };
    case 'end-of-life':
      if (!options.answerRetiredModels) {
        return { ok: false, error: { status: 404, type: 'ResourceNotFoundException', message: MESSAGES.endOfLife } };
      }
      return { ok: true, id, family: facts.family };
    case 'active':
      return { ok: true, id, family: facts.family };
  }
};

// ---------------------------------------------------------------------------------------------
// Content-filter trigger words
// ---------------------------------------------------------------------------------------------

/** A prompt containing this word is blocked as if moderation flagged the input. */
export const CONTENT_FILTER_TRIGGER = 'standin-blocked';
/** A prompt containing this word gets some (Titan/Nova) or its only (Stability) output blocked. */
export const OUTPUT_FILTER_TRIGGER = 'standin-blocked-output';

/** Which filter a prompt trips: `standin-blocked-output` wins over the plain `standin-blocked`. */
export const promptTrigger = (prompt: string): 'input' | 'output' | null => {
  if (/standin-blocked(?!-output)/.test(prompt)) return 'input';
  if (prompt.includes(OUTPUT_FILTER_TRIGGER)) return 'output';
  return null;
};

// ---------------------------------------------------------------------------------------------
// A small JSON-schema walker with the real validator's wording
// ---------------------------------------------------------------------------------------------

export interface Violation {
  /** JSON pointer in the validator's style: `#`, `#/textToImageParams/text`. */
  readonly pointer: string;
  readonly detail: string;
}

export const malformedMessage = (violation: Violation): string =>
  `Malformed input request: ${violation.pointer}: ${violation.detail}, please reformat your input and try again.`;

type Spec =
  | { readonly type: 'string'; readonly minLength?: number; readonly maxLength?: number; readonly enum?: readonly string[] }
  | { readonly type: 'number' | 'integer'; readonly minimum?: number; readonly maximum?: number; readonly multipleOf?: number }
  | { readonly type: 'object'; readonly properties: Readonly<Record<string, Spec>>; readonly required?: readonly string[] };

const jsonTypeName = (value: unknown): string => {
  if (value === null) return 'Null';
  if (Array.isArray(value)) return 'JSONArray';
  switch (typeof value) {
    case 'string':
      return 'String';
    case 'boolean':
      return 'Boolean';
    case 'number':
      return Number.isInteger(value) ? 'Integer' : 'BigDecimal';
    case 'object':
      return 'JSONObject';
    default:
      return typeof value;
  }
};

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const typeMismatch = (pointer: string, expected: string, value: unknown): Violation => ({
  pointer,
  detail: `expected type: ${expected}, found: ${jsonTypeName(value)}`,
});

/** The first violation of `spec` by `value`, or null. Lengths count code points, as the service does. */
const firstViolation = (spec: Spec, value: unknown, pointer: string): Violation | null => {
  switch (spec.type) {
    case 'string': {
      if (typeof value !== 'string') return typeMismatch(pointer, 'String', value);
      const length = [...value].length;
      if (spec.minLength !== undefined && length < spec.minLength) {
        return { pointer, detail: `expected minLength: ${spec.minLength}, actual: ${length}` };
      }
      if (spec.maxLength !== undefined && length > spec.maxLength) {
        return { pointer, detail: `expected maxLength: ${spec.maxLength}, actual: ${length}` };
      }
      if (spec.enum && !spec.enum.includes(value)) return { pointer, detail: `${value} is not a valid enum value` };
      return null;
    }
    case 'number':
    case 'integer': {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        return typeMismatch(pointer, spec.type === 'integer' ? 'Integer' : 'Number', value);
      }
      if (spec.type === 'integer' && !Number.isInteger(value)) return typeMismatch(pointer, 'Integer', value);
      if (spec.minimum !== undefined && value < spec.minimum) {
        return { pointer, detail: `${value} is not greater or equal to ${spec.minimum}` };
      }
      if (spec.maximum !== undefined && value > spec.maximum) {
        return { pointer, detail: `${value} is not less or equal to ${spec.maximum}` };
      }
      if (spec.multipleOf !== undefined && value % spec.multipleOf !== 0) {
        return { pointer, detail: `${value} is not a multiple of ${spec.multipleOf}` };
      }
      return null;
    }
    case 'object': {
      if (!isObject(value)) return typeMismatch(pointer, 'JSONObject', value);
      for (const key of spec.required ?? []) {
        if (!(key in value)) return { pointer, detail: `required key [${key}] not found` };
      }
      for (const key of Object.keys(value)) {
        if (!Object.hasOwn(spec.properties, key)) {
          return { pointer, detail: `extraneous key [${key}] is not permitted` };
        }
      }
      for (const [key, child] of Object.entries(spec.properties)) {
        if (key in value) {
          const violation = firstViolation(child, value[key], `${pointer}/${key}`);
          if (violation) return violation;
        }
      }
      return null;
    }
  }
};

// ---------------------------------------------------------------------------------------------
// Input images
// ---------------------------------------------------------------------------------------------

export type ImageFormat = 'png' | 'jpeg' | 'webp';

export interface ImageRules {
  readonly formats: readonly ImageFormat[];
  /** Decoded size limit. */
  readonly maxBytes?: number;
  /** Exactly RGB, 8 bits per channel (Titan; Nova too, with `alpha: 'if-opaque'`). */
  readonly rgb8?: boolean;
  readonly alpha: 'never' | 'if-opaque' | 'allowed';
  readonly minSide?: number;
  readonly maxPixels?: number;
  /** Longer side / shorter side at most this. */
  readonly maxAspect?: number;
}

/** "5 MB" read as 5 MiB of decoded bytes. */
const FIVE_MB = 5 * 1024 * 1024;

export const IMAGE_RULES: Readonly<Record<ModelFamily, ImageRules>> = {
  titan: { formats: ['png', 'jpeg'], maxBytes: FIVE_MB, rgb8: true, alpha: 'never' },
  // The contract: "Same shape as Titan v2, with these differences: … Input PNG may carry alpha only if fully opaque."
  nova: { formats: ['png', 'jpeg'], maxBytes: FIVE_MB, rgb8: true, alpha: 'if-opaque' },
  stability: { formats: ['jpeg', 'png', 'webp'], alpha: 'allowed', minSide: 64, maxPixels: 9_437_184, maxAspect: 2.5 },
};

/** A base64 image field taken from the body, decoded but not yet inspected. */
export interface ImageField {
  readonly pointer: string;
  readonly base64: string;
  readonly bytes: Buffer;
  readonly rules: ImageRules;
}

/** What the stand-in learnt about an image with sharp. */
export interface ImageInfo {
  readonly format: string;
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  /** libvips band format: 'uchar' is 8 bits per channel. */
  readonly depth: string;
  /** libvips interpretation: 'srgb', 'b-w', 'cmyk', … */
  readonly space: string;
  readonly hasAlpha: boolean;
  /** Only needed (and only filled) when `needsOpacityCheck` says so. */
  readonly isOpaque?: boolean;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Strict standard base64 (padded, no whitespace, no data: URL prefix) → bytes, or what is wrong. */
export const decodeBase64 = (text: string): { ok: true; bytes: Buffer } | { ok: false; detail: string } => {
  if (text.length === 0) return { ok: false, detail: 'expected a base64-encoded image, found an empty string' };
  if (/^data:/i.test(text)) return { ok: false, detail: 'expected plain base64, found a data: URL prefix' };
  if (!BASE64.test(text) || text.length % 4 !== 0) return { ok: false, detail: 'string is not valid base64' };
  return { ok: true, bytes: Buffer.from(text, 'base64') };
};

export const needsOpacityCheck = (rules: ImageRules, info: ImageInfo): boolean => rules.alpha === 'if-opaque' && info.hasAlpha;

/** The first broken input-image rule, or null. `info` null means the bytes could not be decoded. */
export const checkImage = (field: ImageField, info: ImageInfo | null): Violation | null => {
  const { pointer, rules } = field;
  const fail = (detail: string): Violation => ({ pointer, detail });
  if (rules.maxBytes !== undefined && field.bytes.length > rules.maxBytes) {
    return fail(`image is ${field.bytes.length} bytes, at most ${rules.maxBytes} bytes (5 MB) are allowed`);
  }
  if (!info) return fail('image could not be decoded');
  if (!(rules.formats as readonly string[]).includes(info.format)) {
    return fail(`image format ${info.format} is not supported, expected one of: ${rules.formats.join(', ')}`);
  }
  if (rules.alpha === 'never' && info.hasAlpha) return fail('image must not have an alpha channel (RGB only)');
  if (rules.alpha === 'if-opaque' && info.hasAlpha) {
    if (info.isOpaque === undefined) throw new Error('checkImage: isOpaque is required for an image with alpha');
    if (!info.isOpaque) return fail('image has an alpha channel that is not fully opaque');
  }
  if (rules.rgb8) {
    const colourChannels = info.hasAlpha ? info.channels - 1 : info.channels;
    if (colourChannels !== 3 || info.space !== 'srgb' || info.depth !== 'uchar') {
      return fail(
        `image must be RGB with 8 bits per channel, found ${colourChannels} colour channel(s), colour space ${info.space}, sample format ${info.depth}`,
      );
    }
  }
  if (rules.minSide !== undefined && Math.min(info.width, info.height) < rules.minSide) {
    return fail(`image is ${info.width}x${info.height}, each side must be at least ${rules.minSide} pixels`);
  }
  if (rules.maxPixels !== undefined && info.width * info.height > rules.maxPixels) {
    return fail(`image is ${info.width}x${info.height} (${info.width * info.height} pixels), at most ${rules.maxPixels} pixels are allowed`);
  }
  if (rules.maxAspect !== undefined) {
    const ratio = Math.max(info.width, info.height) / Math.min(info.width, info.height);
    if (ratio > rules.maxAspect) {
      return fail(`image is ${info.width}x${info.height}, its aspect ratio must be between 1:${rules.maxAspect} and ${rules.maxAspect}:1`);
    }
  }
  return null;
};

/**
 * Titan/Nova: the conditioning image must already be at the requested output size. The service
 * documentation does not require this; the pipeline always sends it that way, so a mismatch is
 * one of our bugs and the stand-in refuses it.
 */
export const checkConditionSize = (request: TitanNovaRequest, info: ImageInfo): Violation | null => {
  if (!request.conditionImage || (info.width === request.width && info.height === request.height)) return null;
  return {
    pointer: request.conditionImage.pointer,
    detail:
      `conditionImage is ${info.width}x${info.height} but the requested output is ${request.width}x${request.height} ` +
      '(local stand-in rule: the pipeline must send the conditioning image at the output size)',
  };
};

// ---------------------------------------------------------------------------------------------
// Titan Image Generator v2 and Nova Canvas
// ---------------------------------------------------------------------------------------------

export const TITAN_SIZES: readonly (readonly [number, number])[] = [
  [1024, 1024], [768, 768], [512, 512], [768, 1152], [384, 576], [1152, 768], [576, 384], [768, 1280], [384, 640],
  [1280, 768], [640, 384], [896, 1152], [448, 576], [1152, 896], [576, 448], [768, 1408], [384, 704], [1408, 768],
  [704, 384], [640, 1408], [320, 704], [1408, 640], [704, 320], [1152, 640], [1173, 640],
];

export const NOVA_STYLES = [
  '3D_ANIMATED_FAMILY_FILM',
  'DESIGN_SKETCH',
  'FLAT_VECTOR_ILLUSTRATION',
  'GRAPHIC_NOVEL_ILLUSTRATION',
  'MAXIMALISM',
  'MIDCENTURY_RETRO',
  'PHOTOREALISM',
  'SOFT_DIGITAL_PAINTING',
] as const;

/** Titan's task types: only TEXT_IMAGE is implemented by the stand-in; the others are recognised. */
const TITAN_TASK_TYPES = [
  'TEXT_IMAGE',
  'INPAINTING',
  'OUTPAINTING',
  'IMAGE_VARIATION',
  'COLOR_GUIDED_GENERATION',
  'BACKGROUND_REMOVAL',
] as const;

/** The contract's safe upper bound for Nova seeds (documented range is larger, but larger values have failed). */
export const NOVA_MAX_SEED = 858_993_459;

const controlParams = {
  conditionImage: { type: 'string' },
  controlMode: { type: 'string', enum: ['CANNY_EDGE', 'SEGMENTATION'] },
  controlStrength: { type: 'number', minimum: 0, maximum: 1 },
} as const satisfies Record<string, Spec>;

const generationConfig = (family: 'titan' | 'nova'): Spec => ({
  type: 'object',
  properties: {
    numberOfImages: { type: 'integer', minimum: 1, maximum: 5 },
    // Titan: only the exact pairs (checked below); Nova: 320–4096, multiple of 16.
    width: family === 'nova' ? { type: 'integer', minimum: 320, maximum: 4096, multipleOf: 16 } : { type: 'integer' },
    height: family === 'nova' ? { type: 'integer', minimum: 320, maximum: 4096, multipleOf: 16 } : { type: 'integer' },
    cfgScale: { type: 'number', minimum: 1.1, maximum: 10 },
    seed: { type: 'integer', minimum: 0, maximum: family === 'nova' ? NOVA_MAX_SEED : 2_147_483_646 },
    quality: { type: 'string', enum: ['standard', 'premium'] },
  },
});

const TITAN_SCHEMA: Spec = {
  type: 'object',
  required: ['taskType'],
  properties: {
    taskType: { type: 'string', enum: TITAN_TASK_TYPES },
    textToImageParams: {
      type: 'object',
      required: ['text'],
      properties: {
        text: { type: 'string', minLength: 1, maxLength: 512 },
        negativeText: { type: 'string', maxLength: 512 },
        ...controlParams,
      },
    },
    imageGenerationConfig: generationConfig('titan'),
  },
};

const NOVA_SCHEMA: Spec = {
  type: 'object',
  required: ['taskType'],
  properties: {
    taskType: { type: 'string', enum: TITAN_TASK_TYPES },
    textToImageParams: {
      type: 'object',
      required: ['text'],
      properties: {
        text: { type: 'string', minLength: 1, maxLength: 1024 },
        negativeText: { type: 'string', minLength: 1, maxLength: 1024 },
        ...controlParams,
        style: { type: 'string', enum: NOVA_STYLES },
      },
    },
    imageGenerationConfig: generationConfig('nova'),
  },
};

export interface TitanNovaRequest {
  readonly family: 'titan' | 'nova';
  readonly text: string;
  readonly negativeText?: string;
  readonly conditionImage?: ImageField;
  readonly controlMode?: 'CANNY_EDGE' | 'SEGMENTATION';
  readonly controlStrength: number;
  readonly style?: string;
  readonly numberOfImages: number;
  readonly width: number;
  readonly height: number;
  readonly cfgScale: number;
  readonly seed: number;
  readonly quality: 'standard' | 'premium';
}

// ---------------------------------------------------------------------------------------------
// Stability Control Sketch / Control Structure
// ---------------------------------------------------------------------------------------------

export const STABILITY_STYLE_PRESETS = [
  '3d-model', 'analog-film', 'anime', 'cinematic', 'comic-book', 'digital-art', 'enhance', 'fantasy-art', 'isometric',
  'line-art', 'low-poly', 'modeling-compound', 'neon-punk', 'origami', 'photographic', 'pixel-art', 'tile-texture',
] as const;

const STABILITY_SCHEMA: Spec = {
  type: 'object',
  required: ['prompt', 'image'],
  properties: {
    prompt: { type: 'string', minLength: 1, maxLength: 10_000 },
    image: { type: 'string' },
    control_strength: { type: 'number', minimum: 0, maximum: 1 },
    negative_prompt: { type: 'string', maxLength: 10_000 },
    seed: { type: 'integer', minimum: 0, maximum: 4_294_967_294 },
    output_format: { type: 'string', enum: ['jpeg', 'png', 'webp'] },
    style_preset: { type: 'string', enum: STABILITY_STYLE_PRESETS },
  },
};

export interface StabilityRequest {
  readonly family: 'stability';
  readonly prompt: string;
  readonly negativePrompt?: string;
  readonly image: ImageField;
  readonly controlStrength: number;
  /** 0 when absent or 0 ("random"). */
  readonly seed: number;
  readonly outputFormat: ImageFormat;
  readonly stylePreset?: string;
}

export type ModelRequest = TitanNovaRequest | StabilityRequest;

export type Validation =
  | { readonly ok: true; readonly request: ModelRequest }
  /** `implemented: false`: well-formed, but the stand-in does not implement it (e.g. Titan INPAINTING). */
  | { readonly ok: false; readonly violation: Violation; readonly implemented?: false };

const imageField = (family: ModelFamily, pointer: string, text: string): ImageField | Violation => {
  const decoded = decodeBase64(text);
  if (!decoded.ok) return { pointer, detail: decoded.detail };
  return { pointer, base64: text, bytes: decoded.bytes, rules: IMAGE_RULES[family] };
};

const isViolation = (value: ImageField | Violation): value is Violation => 'detail' in value;

/**
 * Checks a parsed InvokeModel body against `family`'s schema and the size rules, and returns it
 * normalised with the documented defaults. Images are decoded from base64 but not inspected:
 * run `checkImage` (and for Titan/Nova `checkConditionSize`) on `conditionImage` / `image`.
 */
export const validateRequest = (family: ModelFamily, body: unknown): Validation => {
  if (family === 'stability') return validateStability(body);
  const violation = firstViolation(family === 'titan' ? TITAN_SCHEMA : NOVA_SCHEMA, body, '#');
  if (violation) return { ok: false, violation };
  const root = body as Record<string, unknown>;
  if (root.taskType !== 'TEXT_IMAGE') {
    return {
      ok: false,
      implemented: false,
      violation: { pointer: '#/taskType', detail: `the local Bedrock stand-in implements only TEXT_IMAGE, not ${String(root.taskType)}` },
    };
  }
  if (!isObject(root.textToImageParams)) {
    return { ok: false, violation: { pointer: '#', detail: 'required key [textToImageParams] not found' } };
  }
  const params = root.textToImageParams as {
    text: string;
    negativeText?: string;
    conditionImage?: string;
    controlMode?: 'CANNY_EDGE' | 'SEGMENTATION';
    controlStrength?: number;
    style?: string;
  };
  const config = (root.imageGenerationConfig ?? {}) as {
    numberOfImages?: number;
    width?: number;
    height?: number;
    cfgScale?: number;
    seed?: number;
    quality?: 'standard' | 'premium';
  };

  for (const dependent of ['controlMode', 'controlStrength'] as const) {
    if (params[dependent] !== undefined && params.conditionImage === undefined) {
      return {
        ok: false,
        violation: { pointer: '#/textToImageParams', detail: `property [conditionImage] is required by [${dependent}]` },
      };
    }
  }

  const width = config.width ?? 1024;
  const height = config.height ?? 1024;
  if (family === 'titan') {
    if (!TITAN_SIZES.some(([w, h]) => w === width && h === height)) {
      return {
        ok: false,
        violation: {
          pointer: '#/imageGenerationConfig',
          detail: `width x height ${width}x${height} is not a supported size, expected one of: ${TITAN_SIZES.map(([w, h]) => `${w}x${h}`).join(', ')}`,
        },
      };
    }
  } else {
    if (width * height > 4_194_304) {
      return {
        ok: false,
        violation: { pointer: '#/imageGenerationConfig', detail: `width x height ${width}x${height} is ${width * height} pixels, at most 4194304 are allowed` },
      };
    }
    if (Math.max(width, height) / Math.min(width, height) > 4) {
      return {
        ok: false,
        violation: { pointer: '#/imageGenerationConfig', detail: `width x height ${width}x${height}: the aspect ratio must be between 1:4 and 4:1` },
      };
    }
  }

  let conditionImage: ImageField | undefined;
  if (params.conditionImage !== undefined) {
    const field = imageField(family, '#/textToImageParams/conditionImage', params.conditionImage);
    if (isViolation(field)) return { ok: false, violation: field };
    conditionImage = field;
  }

  const request: TitanNovaRequest = {
    family,
    text: params.text,
    ...(params.negativeText !== undefined && { negativeText: params.negativeText }),
    ...(conditionImage && { conditionImage, controlMode: params.controlMode ?? 'CANNY_EDGE' }),
    controlStrength: params.controlStrength ?? 0.7,
    ...(params.style !== undefined && { style: params.style }),
    numberOfImages: config.numberOfImages ?? 1,
    width,
    height,
    cfgScale: config.cfgScale ?? (family === 'nova' ? 6.5 : 8.0),
    seed: config.seed ?? (family === 'nova' ? 12 : 0),
    quality: config.quality ?? 'standard',
  };
  return { ok: true, request };
};

const validateStability = (body: unknown): Validation => {
  const violation = firstViolation(STABILITY_SCHEMA, body, '#');
  if (violation) return { ok: false, violation };
  const root = body as {
    prompt: string;
    image: string;
    control_strength?: number;
    negative_prompt?: string;
    seed?: number;
    output_format?: ImageFormat;
    style_preset?: string;
  };
  const image = imageField('stability', '#/image', root.image);
  if (isViolation(image)) return { ok: false, violation: image };
  return {
    ok: true,
    request: {
      family: 'stability',
      prompt: root.prompt,
      ...(root.negative_prompt !== undefined && { negativePrompt: root.negative_prompt }),
      image,
      controlStrength: root.control_strength ?? 0.7,
      seed: root.seed ?? 0,
      outputFormat: root.output_format ?? 'png',
      ...(root.style_preset !== undefined && { stylePreset: root.style_preset }),
    },
  };
};
