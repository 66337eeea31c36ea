import { createHash } from 'node:crypto';
import { MAX_OUTPUT_NAME_BYTES, OutputFile } from './layout';

/** S3's longest key, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;
/** Room for a folder, trailing slash included, so that `<folder><longest name>` is a valid key. */
const FOLDER_ROOM = MAX_KEY_BYTES - MAX_OUTPUT_NAME_BYTES;
const HASH_HEX_DIGITS = 32;

/**
 * The output folder of an input key: the whole key, extension included, plus `/`.
 * `photos/tiger.jpg` → `photos/tiger.jpg/`, so `tiger.jpg` and `tiger.png`, or `a/b` and
 * `a/b.png`, never share a folder.
 *
 * The mapping is injective, so no two uploads ever write into one folder:
 * - every `~` in the key is doubled, so in the folder of an ordinary key tildes come in pairs;
 * - a key too long for `<folder><name>` to fit S3's 1,024-byte limit (32 bytes are kept for a
 *   file name) keeps the start of its (escaped) name, then one `~` and 32 hex digits of the key's SHA-256 — an odd run of
 *   tildes that no ordinary key's folder contains, so a crafted short key can never land in a
 *   long key's folder.
 * Folders may nest (`a/b/` and `a/b/c.jpg/`), but a folder's own files are the objects directly
 * in it: `<folder><name>` with no further `/`, which belong to that folder's key alone.
 */
export const outputFolder = (key: string): string => {
  const escaped = key.replaceAll('~', '~~');
  if (Buffer.byteLength(escaped) + 1 <= FOLDER_ROOM) return `${escaped}/`;
  const tag = `~${createHash('sha256').update(key, 'utf8').digest('hex').slice(0, HASH_HEX_DIGITS)}/`;
  // A cut inside a multi-byte character decodes to U+FFFD: drop it.
  let kept = Buffer.from(escaped).subarray(0, FOLDER_ROOM - tag.length).toString('utf8').replace(/\uFFFD+$/, '');
  // A cut between the two tildes of a pair would make the tag's run even: keep pairs whole.
  const trailingTildes = /~*$/.exec(kept)![0].length;
  if (trailingTildes % 2 === 1) kept = kept.slice(0, -1);
  return `${kept}${tag}`;
};

/** The keys of one upload's output folder. */
export const outputKeys = (key: string) => {
  const folder = outputFolder(key);
  return {
    folder,
    image: (n: number) => `${folder}${OutputFile.image(n)}`,
    edges: `${folder}${OutputFile.EDGES}`,
    manifest: `${folder}${OutputFile.MANIFEST}`,
    error: `${folder}${OutputFile.ERROR}`,
    contactSheet: `${folder}${OutputFile.CONTACT_SHEET}`,
  };
};
export type OutputKeys = ReturnType<typeof outputKeys>;
