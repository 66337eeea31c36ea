/**
 * `npm run upload`: uploads photos and folders to the pipeline with a prompt that arrives
 * intact (commas, quotes, any language), optionally follows them to their outcomes with a
 * progress line, downloads the outcome folders and writes a gallery (index.html).
 *
 *   npm run upload -- <photos or folders>... --prompt "…" [--metadata key=value]... [--prefix P]
 *                     [--wait] [--out DIR] [--endpoint URL] [--input-bucket B --output-bucket B]
 *
 * Buckets: the deployed stack's Terraform outputs; or `--input-bucket`/`--output-bucket`; or
 * a local run's `--endpoint` (what `npm start -- --watch` prints). Keys: a file's name, or for
 * a folder the folder's name and the path below it (scripts/cli/upload-key.ts). Metadata:
 * values that are not plain ASCII go as RFC 2047 encoded words (scripts/cli/metadata.ts),
 * which the pipeline decodes; more than S3's 2 KB of metadata is refused before anything is
 * uploaded.
 *
 * Exit code: 0 all uploaded (and, with --wait, every outcome has pictures); 1 some upload
 * failed or (with --wait) some outcome failed or never came; 2 a usage error.
 */
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runBatch } from './cli/batch';
import { buildMetadata, checkMetadataSize } from './cli/metadata';
import { findPhotos } from './cli/photos';
import { runAsScript } from './cli/run-as-script';
import { resolveTarget } from './cli/target';
import { assignKeys } from './cli/upload-key';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const USAGE = `usage: npm run upload -- <photos or folders>... --prompt "…" [options]

  --prompt TEXT           what to draw (any text: commas, quotes, any language)
  --metadata key=value    another per-upload parameter (negative-prompt, seed, count, …); repeatable
  --prefix P              upload under P/ (keys are otherwise the file name, or folder/relative path)
  --wait                  follow the jobs to their outcomes with a progress line, then download
                          the outcome folders and write a gallery
  --out DIR               where --wait downloads to (default: out)
  --endpoint URL          a local run (npm start -- --watch prints it) instead of the deployed stack
  --stack FILE            with --endpoint: the cdk.tf.json the local run was made from
  --input-bucket B, --output-bucket B   the buckets, without Terraform
  --region R              the deployed stack's region (default: from its queue URLs or AWS_REGION)
  --timeout S             with --wait: give up when no job has finished for S seconds (default 600)`;

export const main = async (argv: readonly string[]): Promise<number> => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      prompt: { type: 'string' },
      metadata: { type: 'string', multiple: true },
      prefix: { type: 'string', default: '' },
      wait: { type: 'boolean', default: false },
      out: { type: 'string', default: 'out' },
      endpoint: { type: 'string' },
      stack: { type: 'string' },
      'input-bucket': { type: 'string' },
      'output-bucket': { type: 'string' },
      region: { type: 'string' },
      timeout: { type: 'string', default: '600' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length === 0) {
    console.error(`Name at least one photo or folder.\n\n${USAGE}`);
    return 2;
  }
  const metadata = buildMetadata(values.prompt, values.metadata ?? []);
  if (metadata.prompt === undefined) console.log('note: no --prompt: the deployed default_prompt applies (an upload without one fails with INVALID_PARAMETER).');

  const found = await findPhotos(positionals);
  const { keyed, problems } = assignKeys(found.photos, values.prefix);
  const skipped = [...found.problems, ...problems];
  for (const s of skipped) console.log(`skipped ${relative(process.cwd(), s.path) || s.path}: ${s.reason}`);
  if (keyed.length === 0) {
    console.error('Nothing to upload.');
    return 2;
  }
  const tooLarge = keyed.map((p) => checkMetadataSize(relative(process.cwd(), p.path) || p.path, metadata)).find((m) => m !== undefined);
  if (tooLarge) {
    console.error(tooLarge);
    return 2;
  }

  const target = await resolveTarget({
    ...(values.endpoint ? { endpoint: values.endpoint } : {}),
    ...(values.stack ? { stack: resolve(values.stack) } : {}),
    ...(values['input-bucket'] ? { inputBucket: values['input-bucket'] } : {}),
    ...(values['output-bucket'] ? { outputBucket: values['output-bucket'] } : {}),
    ...(values.region ? { region: values.region } : {}),
  });
  try {
    const { input, output, staging } = target.buckets;
    if (!input || (values.wait && !output)) throw new Error(`No ${!input ? 'input' : 'output'} bucket in ${target.where}: name it with --${!input ? 'input' : 'output'}-bucket`);
    console.log(`uploading ${keyed.length} file(s) to s3://${input}/ (${target.where})`);
    const outDir = resolve(values.out);
    const result = await runBatch({
      s3: target.s3,
      buckets: { input, output: output ?? '', ...(staging ? { staging } : {}) },
      photos: keyed,
      metadata,
      skipped,
      wait: values.wait,
      ...(values.wait ? { outDir } : {}),
      pollMs: target.local ? 500 : 2000,
      stallTimeoutMs: Number(values.timeout) * 1000,
    });
    console.log(`\n${result.summary}`);
    if (result.gallery) console.log(`\ngallery: ${relative(process.cwd(), result.gallery) || result.gallery}`);
    else if (output) console.log(`\nOutcomes appear in s3://${output}/<key>/ (npm run upload -- … --wait follows them; npm run status counts them).`);
    const failed = result.outcomes.some((o) => o.manifest.outcome !== 'succeeded');
    return result.notProcessed.length > 0 || failed ? 1 : 0;
  } finally {
    target.close();
  }
};

runAsScript(import.meta.url, main);
