/**
 * The S3 key each found photo is uploaded as (its output folder is that key plus `/`, see
 * functions/core/naming.ts):
 *
 * - a file named on the command line: its file name — `~/Pictures/tiger.jpg` → `tiger.jpg`;
 * - a file found in a folder named on the command line: the folder's name, then the path
 *   below it with `/` between components — `photos/` holding `cats/tom.jpg` →
 *   `photos/cats/tom.jpg`; so the output bucket (and `out/`) mirror the folder;
 * - with a prefix (`--prefix batch-7`), the prefix and `/` before that.
 *
 * Keys are Unicode NFC (macOS writes file names decomposed: without this, `é` typed in a
 * prompt folder and `é` from the disk would be two different keys). A key is refused, not
 * altered, when it cannot be a clean S3 key: a control character in a name (S3 stores it, but
 * it breaks XML listings and terminals), or longer than S3's 1,024 bytes. Two photos that
 * would get the same key (`a/x.jpg` and `b/x.jpg` named directly) are refused too, naming
 * both: the second upload would replace the first's outcome.
 *
 * @module
 */
import { basename, relative, sep } from 'node:path';
import type { FoundPhoto, Skipped } from './photos';

/** S3's longest key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;

/** `batch-7`, `/batch-7/` → `batch-7/`; empty stays empty. Empty segments and `.`/`..` are refused. */
export const normalizePrefix = (prefix: string): string => {
  const segments = prefix.normalize('NFC').split('/').filter((s, i, all) => !(s === '' && (i === 0 || i === all.length - 1)));
  if (segments.length === 0) return '';
  for (const segment of segments) {
    if (segment === '' || segment === '.' || segment === '..' || CONTROL.test(segment)) {
      throw new Error(`--prefix ${JSON.stringify(prefix)}: a prefix is folder names separated by single "/", without "." or ".." or control characters`);
    }
  }
  return `${segments.join('/')}/`;
};

/** The key of one found photo (see the module comment), before any check. */
export const keyOf = (photo: FoundPhoto, prefix = ''): string => {
  const name = photo.inFolder ? [basename(photo.root), ...relative(photo.root, photo.path).split(sep)].filter((s) => s !== '').join('/') : basename(photo.path);
  return `${normalizePrefix(prefix)}${name}`.normalize('NFC');
};

export interface KeyedPhoto extends FoundPhoto {
  readonly key: string;
}

/** Keys for every photo; photos whose key is unusable or taken are reported instead. */
export const assignKeys = (photos: readonly FoundPhoto[], prefix = ''): { keyed: KeyedPhoto[]; problems: Skipped[] } => {
  const keyed: KeyedPhoto[] = [];
  const problems: Skipped[] = [];
  const owner = new Map<string, string>();
  for (const photo of photos) {
    const key = keyOf(photo, prefix);
    if (CONTROL.test(key)) {
      problems.push({ path: photo.path, reason: `its name has a control character (key ${JSON.stringify(key)}); rename it` });
    } else if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
      problems.push({ path: photo.path, reason: `its key is ${Buffer.byteLength(key)} bytes, more than S3's ${MAX_KEY_BYTES}` });
    } else if (owner.has(key)) {
      problems.push({ path: photo.path, reason: `it would be uploaded as ${key}, like ${owner.get(key)}; upload one of them separately or with --prefix` });
    } else {
      owner.set(key, photo.path);
      keyed.push({ ...photo, key });
    }
  }
  return { keyed, problems };
};
