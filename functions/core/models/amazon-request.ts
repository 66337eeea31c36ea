import type { JobParameters } from '../params';
import type { Size } from '../sizing';
import type { ModelCall } from './adapter';

/** What differs between the Titan Image Generator v2 and Nova Canvas requests. */
export interface TextImageOptions {
  /** Names the model in programming-error messages. */
  readonly model: string;
  /** Prompt guidance sent as `cfgScale`: each model's documented default. */
  readonly cfgScale: number;
}

/**
 * The `TEXT_IMAGE` request with a condition image shared by Titan v2 and Nova
 * Canvas: one call asking for `count` images, seeded with the first seed (the
 * model varies the others itself). `negativeText` is omitted rather than sent
 * empty, which Nova rejects. No key outside the documented schema is sent:
 * both models reject extraneous keys.
 */
export const textImageCalls = (
  options: TextImageOptions,
  parameters: JobParameters,
  size: Size,
  image: Uint8Array,
  seeds: readonly number[],
): ModelCall[] => {
  const seed = seeds[0];
  if (seed === undefined) throw new RangeError(`Expected one seed for a ${options.model} call but received none`);
  return [
    {
      seed,
      images: parameters.count,
      body: {
        taskType: 'TEXT_IMAGE',
        textToImageParams: {
          text: parameters.prompt,
          ...(parameters.negativePrompt ? { negativeText: parameters.negativePrompt } : {}),
          conditionImage: Buffer.from(image).toString('base64'),
          controlMode: parameters.controlMode,
          controlStrength: parameters.controlStrength,
        },
        imageGenerationConfig: {
          numberOfImages: parameters.count,
          width: size.width,
          height: size.height,
          cfgScale: options.cfgScale,
          seed,
          quality: parameters.quality,
        },
      },
    },
  ];
};
