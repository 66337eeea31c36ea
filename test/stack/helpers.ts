// Shared by the test/stack suites: stub build output, synthesis into a temp dir, and the cdk.tf.json shape.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createApp, REPO_ROOT, stackJsonPath } from '../../terraform/app.js';
import type { SynthConfig } from '../../terraform/synth-config.js';

export interface Statement {
  sid?: string;
  effect: string;
  actions: string[];
  resources?: string[];
  principals?: { type: string; identifiers: string[] }[];
  condition?: { test: string; variable: string; values: string[] }[];
}

/** A `dynamic "statement"` block of a policy document: zero or more statements decided by Terraform. */
export interface DynamicStatement {
  for_each: string;
  content: Statement;
}

export interface PolicyDocument {
  statement?: Statement[];
  dynamic?: { statement?: DynamicStatement | DynamicStatement[] };
}

export interface StackJson {
  resource: Record<string, Record<string, Record<string, unknown>>>;
  data: Record<string, Record<string, Record<string, unknown>>>;
  output: Record<string, { value: string; description?: string }>;
  variable: Record<string, { type?: string; description?: string; default?: unknown; validation?: { condition: string; error_message: string }[] }>;
  provider: { aws: { region: string; default_tags?: unknown }[] };
  terraform: { backend: { local: { path: string } }; required_providers: Record<string, { source: string; version: string }> };
}

export const DEFAULT_SYNTH: SynthConfig = { modelId: 'amazon.titan-image-generator-v2:0', region: 'us-east-1' };

/** The stack `npm run synth` writes (with the real build output); tests that use it need a synth first. */
export const REAL_STACK_DIR = join(REPO_ROOT, 'cdktf.out', 'stacks', 'image-conditioning-pipeline');

/** Stub build output: just enough for the stack's checks and for cdktf to zip. */
export const writeStubDist = (root: string): string => {
  const dist = join(root, 'dist');
  for (const fn of ['prepare', 'generate']) {
    mkdirSync(join(dist, 'functions', fn), { recursive: true });
    writeFileSync(join(dist, 'functions', fn, 'index.mjs'), `export const handler = async () => '${fn}';\n`);
  }
  mkdirSync(join(dist, 'layer', 'nodejs', 'node_modules', 'sharp'), { recursive: true });
  writeFileSync(join(dist, 'layer', 'nodejs', 'node_modules', 'sharp', 'package.json'), '{"name":"sharp"}\n');
  return dist;
};

/** Synthesizes into a new directory under `root` and returns the parsed JSON and that directory. */
export const synthesize = (root: string, synth: SynthConfig, distDir = join(root, 'dist')): { json: StackJson; outdir: string } => {
  const outdir = mkdtempSync(join(root, 'out-'));
  createApp({ outdir, distDir, synth, stateFile: join(root, 'test.tfstate') }).synth();
  return { json: JSON.parse(readFileSync(stackJsonPath(outdir), 'utf8')) as StackJson, outdir };
};

/** The data source id an `${data.aws_iam_policy_document.X.json}` reference points at, or undefined. */
export const policyDocumentId = (reference: unknown): string | undefined =>
  typeof reference === 'string' ? /^\$\{data\.aws_iam_policy_document\.(\w+)\.json\}$/.exec(reference)?.[1] : undefined;

/** Every statement a policy document can produce: the static ones, then each dynamic block's content. */
export const allStatements = (doc: PolicyDocument): { statement: Statement; dynamic?: string }[] => [
  ...(doc.statement ?? []).map((statement) => ({ statement })),
  ...[doc.dynamic?.statement ?? []].flat().map((block) => ({ statement: block.content, dynamic: block.for_each })),
];

/**
 * IAM's wildcard matching of a resource pattern against an ARN (`*` any run of characters,
 * `?` one character), case-sensitive like resource ARNs.
 */
export const iamMatches = (pattern: string, value: string): boolean =>
  new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`).test(value);

/** Replaces `${aws_s3_bucket.<id>.arn}` with the ARN of a bucket named `<id>`, so keys the code builds can be matched. */
export const withBucketArns = (resource: string): string => resource.replace(/\$\{aws_s3_bucket\.(\w+)\.arn\}/g, 'arn:aws:s3:::$1');

/**
 * Whether any Allow statement among `statements` may allow `action` on `arn` (an ARN with bucket
 * names as in `withBucketArns`). A statement with conditions counts as allowing: this answers
 * "could the role ever do it", which is what a "must not be able to" assertion needs.
 */
export const mayAllow = (statements: readonly Statement[], action: string, arn: string): boolean =>
  statements.some(
    (s) => s.effect === 'Allow' && s.actions.includes(action) && (s.resources ?? []).some((pattern) => iamMatches(withBucketArns(pattern), arn)),
  );
