import { createHash } from 'node:crypto';

/** S3's longest key, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;
/** The longest name written under an output prefix. */
const LONGEST_NAME = '/manifest.json';

/**
 * Output naming: everything about `photos/tiger.jpg` goes under
 * `photos/tiger/` in the output bucket. Two uploads that differ only in
 * extension share a folder; the later one wins, as with any S3 overwrite.
 * A prefix too long for its outputs to be valid S3 keys keeps its first
 * 993 bytes plus `~` and 16 hex digits of the key's SHA-256.
 */
export const outputPrefix = (key: string): string => {
  const slash = key.lastIndexOf('/');
  const dot = key.lastIndexOf('.');
  // A dot at the start of the file name (".profile") is not an extension.
  const prefix = dot > slash + 1 ? key.slice(0, dot) : key;
  const room = MAX_KEY_BYTES - LONGEST_NAME.length;
  if (Buffer.byteLength(prefix) <= room) return prefix;
  // "<prefix>/manifest.json" would be longer than S3 allows: keep what fits, and tell keys apart by a hash of the whole key.
  const tag = `~${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
  // A cut inside a multi-byte character decodes to U+FFFD: drop it.
  return Buffer.from(prefix).subarray(0, room - tag.length).toString('utf8').replace(/\uFFFD+$/, '') + tag;
};

export const outputKeys = (key: string) => {
  const prefix = outputPrefix(key);
  return {
    image: (n: number) => `${prefix}/${n}.png`,
    edges: `${prefix}/edges.png`,
    manifest: `${prefix}/manifest.json`,
    error: `${prefix}/error.json`,
  };
};
