/**
 * The Bedrock image models this pipeline can drive, with where they answer.
 * Facts from the Bedrock model cards (see README "Models" and docs/models.md);
 * one entry per id a user may configure as `model_id`.
 */
export const ModelFamily = {
  TITAN: 'titan',
  NOVA: 'nova',
  STABILITY: 'stability',
} as const;
export type ModelFamily = (typeof ModelFamily)[keyof typeof ModelFamily];

export interface ModelEntry {
  /** The id passed to InvokeModel. */
  readonly id: string;
  /** The provider's name for the model, for reports. */
  readonly name: string;
  readonly family: ModelFamily;
  /** Regions where the id can be invoked. */
  readonly regions: readonly string[];
  /**
   * For a cross-region inference profile: the foundation model it routes to and
   * the regions it may route to (IAM must allow the model in each of them).
   */
  readonly inferenceProfile?: { readonly foundationModelId: string; readonly routesTo: readonly string[] };
  /** ISO date the provider marked the model Legacy, if it did. */
  readonly legacySince?: string;
  /** ISO date after which calls fail with ResourceNotFoundException, if announced. */
  readonly endOfLife?: string;
  /** USD per generated image at standard quality, for cost estimates. */
  readonly pricePerImage: number;
}

const STABILITY_US_REGIONS = ['us-east-1', 'us-east-2', 'us-west-2'] as const;

export const MODELS: readonly ModelEntry[] = [
  {
    id: 'us.stability.stable-image-control-sketch-v1:0',
    name: 'Stability AI Stable Image Control Sketch',
    family: ModelFamily.STABILITY,
    regions: STABILITY_US_REGIONS,
    inferenceProfile: { foundationModelId: 'stability.stable-image-control-sketch-v1:0', routesTo: STABILITY_US_REGIONS },
    pricePerImage: 0.07,
  },
  {
    id: 'us.stability.stable-image-control-structure-v1:0',
    name: 'Stability AI Stable Image Control Structure',
    family: ModelFamily.STABILITY,
    regions: STABILITY_US_REGIONS,
    inferenceProfile: { foundationModelId: 'stability.stable-image-control-structure-v1:0', routesTo: STABILITY_US_REGIONS },
    pricePerImage: 0.07,
  },
  {
    id: 'amazon.titan-image-generator-v2:0',
    name: 'Amazon Titan Image Generator v2',
    family: ModelFamily.TITAN,
    regions: ['us-east-1', 'us-west-2'],
    legacySince: '2025-12-30',
    endOfLife: '2026-06-30',
    pricePerImage: 0.01,
  },
  {
    id: 'amazon.nova-canvas-v1:0',
    name: 'Amazon Nova Canvas',
    family: ModelFamily.NOVA,
    regions: ['us-east-1', 'eu-west-1', 'ap-northeast-1'],
    legacySince: '2026-03-30',
    endOfLife: '2026-09-30',
    pricePerImage: 0.04,
  },
];

export const findModel = (id: string): ModelEntry | undefined => MODELS.find((model) => model.id === id);

/** The foundation model behind an entry: the profile's model, or the id itself. */
export const foundationModelId = (model: ModelEntry): string => model.inferenceProfile?.foundationModelId ?? model.id;

/**
 * The resource ARNs `bedrock:InvokeModel` must be allowed on for `modelId` in
 * `region`: the foundation model, or for an inference profile the profile plus
 * the foundation model in every region it routes to.
 */
export const invokeResourceArns = (modelId: string, region: string, accountId: string): string[] => {
  const model = findModel(modelId);
  if (!model) {
    throw new Error(`Unknown model id ${JSON.stringify(modelId)}; expected one of: ${MODELS.map((m) => m.id).join(', ')}`);
  }
  if (!model.regions.includes(region)) {
    throw new Error(`Model ${modelId} is not offered in ${region}; it is offered in: ${model.regions.join(', ')}`);
  }
  if (model.inferenceProfile) {
    const { foundationModelId, routesTo } = model.inferenceProfile;
    return [
      `arn:aws:bedrock:${region}:${accountId}:inference-profile/${model.id}`,
      ...routesTo.map((r) => `arn:aws:bedrock:${r}::foundation-model/${foundationModelId}`),
    ];
  }
  return [`arn:aws:bedrock:${region}::foundation-model/${model.id}`];
};
