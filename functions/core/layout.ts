/**
 * Where every object of the pipeline lives, written once: the functions build
 * keys from it, the stack builds its IAM resource patterns and notification
 * filters from it, and the tests read it.
 *
 * Staging bucket:
 *   jobs/<jobId>/conditioning.png, edges.png, job.json   prepare (job.json last: it triggers generate)
 *   claims/<jobId>/<fingerprint>.json                    generate: one claim per model request
 *   claims/<jobId>/<fingerprint>/answer-<n>.json         generate: each paid answer, kept before anything else is written
 *   outcomes/<folder hash>.json                          generate: which upload's outcome a folder shows
 *
 * Output bucket: one folder per input key (see naming.ts), holding
 *   1.png … n.png, edges.png, contact-sheet.png, error.json, manifest.json (written last)
 */
export const Staging = {
  JOBS_PREFIX: 'jobs/',
  JOB_FILE: 'job.json',
  CLAIMS_PREFIX: 'claims/',
  OUTCOMES_PREFIX: 'outcomes/',
} as const;

/** Names inside an output folder. */
export const OutputFile = {
  EDGES: 'edges.png',
  MANIFEST: 'manifest.json',
  ERROR: 'error.json',
  /** The photo, the edge mask and the results side by side, for browsing the bucket. */
  CONTACT_SHEET: 'contact-sheet.png',
  image: (n: number): string => `${n}.png`,
} as const;

/**
 * Room kept for a file name inside an output folder (every name above is shorter): the folder
 * scheme keeps `<folder><name>` within S3's key limit, with space for files added later.
 */
export const MAX_OUTPUT_NAME_BYTES = 32;

/** The staging notification that starts generate: a job file under jobs/. */
export const JOB_TRIGGER = { prefix: Staging.JOBS_PREFIX, suffix: `/${Staging.JOB_FILE}` } as const;
