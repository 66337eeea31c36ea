/**
 * The Bedrock image models this pipeline can drive, with where they answer.
 * Facts from the Bedrock model cards (see README "Models"); one entry per id a
 * user may configure as `model_id`.
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
  readonly family: ModelFamily;
  /** Regions where the id can be invoked. */
  readonly regions: readonly string[];
  /**
   * For a cross-region inference profile: the foundation model it routes to and
   * the regions it may route to (IAM must allow the model in each of them).
   */
  readonly inferenceProfile?: { readonly foundationModelId: string; readonly routesTo: readonly string[] };
  /** ISO date after which calls fail with ResourceNotFoundException, if announced. */
  readonly endOfLife?: string;
  /** USD per generated image at standard quality, for cost estimates. */
  readonly pricePerImage: number;
}

const STABILITY_US_REGIONS = ['us-east-1', 'us-east-2', 'us-west-2'] as const;

export const MODELS: readonly ModelEntry[] = [
  {
    id: 'us.stability.stable-image-control-sketch-v1:0',
    family: ModelFamily.STABILITY,
    regions: STABILITY_US_REGIONS,
    inferenceProfile: { foundationModelId: 'stability.stable-image-control-sketch-v1:0', routesTo: STABILITY_US_REGIONS },
    pricePerImage: 0.07,
  },
  {
    id: 'us.stability.stable-image-control-structure-v1:0',
    family: ModelFamily.STABILITY,
    regions: STABILITY_US_REGIONS,
    inferenceProfile: { foundationModelId: 'stability.stable-image-control-structure-v1:0', routesTo: STABILITY_US_REGIONS },
    pricePerImage: 0.07,
  },
  {
    id: 'amazon.titan-image-generator-v2:0',
    family: ModelFamily.TITAN,
    regions: ['us-east-1', 'us-west-2'],
    endOfLife: '2026-06-30',
    pricePerImage: 0.01,
  },
  {
    id: 'amazon.nova-canvas-v1:0',
    family: ModelFamily.NOVA,
    regions: ['us-east-1', 'eu-west-1', 'ap-northeast-1'],
    endOfLife: '2026-09-30',
    pricePerImage: 0.04,
  },
];

export const findModel = (id: string): ModelEntry | undefined => MODELS.find((model) => model.id === id);

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
