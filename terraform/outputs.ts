/**
 * The stack's Terraform outputs, name → the type of value `terraform output -json` gives, in
 * one list because stack.ts, the scripts that read a deployed stack and the tests all depend
 * on the same names: stack.ts does not compile with a missing or extra output, and a script
 * cannot ask for one that does not exist.
 *
 * The per-hour ceilings are null, not a number, when model_call_min_seconds is 0 (no ceiling).
 */
export const STACK_OUTPUTS = {
  input_bucket_name: 'string',
  staging_bucket_name: 'string',
  output_bucket_name: 'string',
  prepare_function_name: 'string',
  generate_function_name: 'string',
  prepare_queue_url: 'string',
  generate_queue_url: 'string',
  dead_letter_queue_url: 'string',
  dead_letter_queue_arn: 'string',
  redrive_command: 'string',
  max_model_calls_per_hour: 'number',
  max_images_per_hour: 'number',
  max_usd_per_hour: 'number',
  upload_command: 'string',
} as const satisfies Record<string, 'string' | 'number'>;

export type StackOutputName = keyof typeof STACK_OUTPUTS;

interface OutputValueTypes {
  readonly string: string;
  readonly number: number;
}

/** The outputs of a deployed stack, each with the type of value the table above gives it. */
export type StackOutputs = { readonly [Name in StackOutputName]: OutputValueTypes[(typeof STACK_OUTPUTS)[Name]] };
