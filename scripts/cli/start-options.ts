/**
 * `npm start`'s options and usage, in a module of its own so that `npm start -- --help`
 * answers at once, before the build and synth that a run needs (scripts/cli/start.ts), and
 * scripts/local/run.ts parses with the same table.
 *
 * @module
 */
import type { ParseArgsConfig } from 'node:util';

export const START_OPTIONS = {
  prompt: { type: 'string' },
  model: { type: 'string' },
  metadata: { type: 'string', multiple: true },
  prefix: { type: 'string' },
  watch: { type: 'boolean', default: false },
  'answer-retired': { type: 'boolean', default: false },
  faults: { type: 'string' },
  's3-faults': { type: 'string' },
  out: { type: 'string' },
  timeout: { type: 'string', default: '120' },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

export const START_USAGE = `usage: npm start -- [photos or folders]... [options]

Runs the whole pipeline on this machine (local S3 and SQS, the function bundles, a Bedrock
stand-in), uploads every photo (folders recursively; default assets/original.jpg), shows
progress, prints a summary and writes out/index.html, a gallery of the outcomes.

  --prompt TEXT          what to draw (default "a tiger as a hand drawn sketch")
  --metadata key=value   another per-upload parameter (negative-prompt, seed, count, …); repeatable
  --prefix P             upload under P/
  --model ID             synthesize and run that model's stack
  --answer-retired       the stand-in answers Titan v2 / Nova Canvas as before their end of life
  --faults JSON          the stand-in's fault injection, e.g. '[{"kind":"throttle","times":2}]'
  --s3-faults JSON       the local S3's, e.g. '[{"kind":"SlowDown","operation":"PutObject","bucket":"output","times":2}]'
  --watch                keep running and print an aws s3 cp line for uploads with the AWS CLI
  --out DIR              where outcomes and the gallery go (default out)
  --timeout S            give up when no job has finished for S seconds (default 120)`;

/** True when the arguments ask for the usage (an option value that happens to be "--help" does not). */
export const wantsHelp = (args: readonly string[]): boolean => {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') return false;
    if (arg === '--help' || arg === '-h') return true;
    const name = arg.startsWith('--') ? arg.slice(2) : undefined;
    const option = name !== undefined && !name.includes('=') ? (START_OPTIONS as Record<string, { type: string }>)[name] : undefined;
    if (option?.type === 'string') i++; // its value
  }
  return false;
};
