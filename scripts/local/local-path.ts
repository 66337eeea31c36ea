/**
 * Where the local runner writes an S3 object: a pure, injective mapping from object keys to
 * relative paths that can never leave the directory they are resolved in, plus a containment
 * check applied to every path before anything is written or deleted.
 *
 * An S3 key is any UTF-8 string up to 1,024 bytes: `../../etc/passwd`, `/abs`, `a//b`, `x/`,
 * control characters and names Windows refuses are all valid keys. The key is split on `/`
 * and every segment becomes one path component, escaped with `%XX` (upper-case hex of the
 * character's UTF-8 bytes) where it would be unsafe or not portable:
 * - `%` itself (so the escaping is reversible);
 * - control characters U+0000–U+001F and U+007F, and `< > : " \ | ? *` (refused by Windows;
 *   `\` is a separator there);
 * - a leading `.` (so no component is `.` or `..`, hidden, or the runner's own `.local`);
 * - trailing dots and spaces (Windows drops them);
 * - the first letter of a Windows device name (`CON`, `nul.txt`, `COM1`…);
 * - a lone UTF-16 surrogate (not valid UTF-8), as `%uXXXX`.
 * An empty segment (`/abs`, `a//b`, `dir/`) becomes a lone `%`, which no other segment maps to.
 * A component longer than 255 UTF-8 bytes (most filesystems' limit) keeps its first bytes
 * then `%~` and 32 hex digits of the segment's SHA-256; `%~` appears in no other component.
 *
 * Two keys that differ only in letter case or Unicode normalization map to different strings,
 * but a case-insensitive (or normalizing) filesystem stores them in one file.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { isAbsolute, relative, resolve, sep } from 'node:path';

/** Longest file name, in UTF-8 bytes, on ext4, XFS, APFS, NTFS (in UTF-16 units there)… */
export const MAX_COMPONENT_BYTES = 255;
const HASH_HEX_DIGITS = 32;
const HASH_MARK = '%~';
const EMPTY_SEGMENT = '%';

/** Characters escaped wherever they are (besides `/`, which separates segments). */
// eslint-disable-next-line no-control-regex
const ALWAYS_ESCAPED = /[%\x00-\x1f\x7f<>:"\\|?*]/;
/** Windows device names, with or without an extension; Windows ignores trailing spaces before the dot. */
const WINDOWS_DEVICE = /^(?:CON|PRN|AUX|NUL|CONIN\$|CONOUT\$|COM[0-9¹²³]|LPT[0-9¹²³]) *(?:\.|$)/i;

const utf8 = new TextEncoder();

const escapeChar = (char: string): string => {
  const code = char.codePointAt(0)!;
  if (code >= 0xd800 && code <= 0xdfff) return `%u${code.toString(16).toUpperCase()}`;
  let out = '';
  for (const byte of utf8.encode(char)) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
};

/** The local name of one key segment (a part of the key between slashes). */
export const localSegment = (segment: string): string => {
  if (segment === '') return EMPTY_SEGMENT;
  const chars = [...segment]; // code points; lone surrogates stay single
  let trailing = chars.length;
  while (trailing > 0 && (chars[trailing - 1] === '.' || chars[trailing - 1] === ' ')) trailing--;
  const device = WINDOWS_DEVICE.test(segment);
  const escaped = chars.map((char, i) =>
    ALWAYS_ESCAPED.test(char) || i >= trailing || (i === 0 && (char === '.' || device)) || isLoneSurrogate(char) ? escapeChar(char) : char,
  );
  const name = escaped.join('');
  if (Buffer.byteLength(name) <= MAX_COMPONENT_BYTES) return name;
  // Too long for a file name: keep whole escaped characters up to the room left, then a hash
  // of the original segment.
  const tag = `${HASH_MARK}${createHash('sha256').update(segment, 'utf8').digest('hex').slice(0, HASH_HEX_DIGITS)}`;
  const room = MAX_COMPONENT_BYTES - Buffer.byteLength(tag);
  let kept = '';
  let bytes = 0;
  for (const piece of escaped) {
    const size = Buffer.byteLength(piece);
    if (bytes + size > room) break;
    kept += piece;
    bytes += size;
  }
  return `${kept}${tag}`;
};

const isLoneSurrogate = (char: string): boolean => {
  const code = char.codePointAt(0)!;
  return char.length === 1 && code >= 0xd800 && code <= 0xdfff;
};

/**
 * The relative local path (components joined by `/`) of an S3 key. Pure and injective (hashes
 * aside); never absolute, never with an empty, `.` or `..` component.
 *
 * `photos/tiger.jpg/1.png` → `photos/tiger.jpg/1.png`; `../../etc/passwd` → `%2E%2E/%2E%2E/etc/passwd`;
 * `/abs` → `%/abs`; `a//b` → `a/%/b`; `dir/` → `dir/%`; `CON.txt` → `%43ON.txt`.
 */
export const localRelativePath = (key: string): string => key.split('/').map(localSegment).join('/');

/**
 * The key a relative path of {@link localRelativePath} came from, or undefined when a
 * component was shortened with a hash (or was not made by it).
 */
export const keyOfLocalPath = (path: string): string | undefined => {
  const segments: string[] = [];
  for (const component of path.split('/')) {
    if (component === EMPTY_SEGMENT) {
      segments.push('');
      continue;
    }
    if (component.includes(HASH_MARK)) return undefined;
    let bytes: number[] = [];
    let out = '';
    const flush = (): void => {
      if (bytes.length > 0) out += Buffer.from(bytes).toString('utf8');
      bytes = [];
    };
    for (let i = 0; i < component.length; ) {
      const surrogate = /^%u([0-9A-F]{4})/.exec(component.slice(i));
      const byte = /^%([0-9A-F]{2})/.exec(component.slice(i));
      if (surrogate) {
        flush();
        out += String.fromCharCode(parseInt(surrogate[1]!, 16));
        i += 6;
      } else if (byte) {
        bytes.push(parseInt(byte[1]!, 16));
        i += 3;
      } else if (component[i] === '%') {
        return undefined;
      } else {
        flush();
        out += component[i];
        i += 1;
      }
    }
    flush();
    segments.push(out);
  }
  return segments.join('/');
};

/**
 * `path` resolved, after checking that it lies strictly inside `dir` (not `dir` itself).
 * Throws otherwise: call it on every path before writing or deleting there.
 */
export const assertInside = (dir: string, path: string): string => {
  const root = resolve(dir);
  const target = resolve(root, path);
  const rel = relative(root, target);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new Error(`Refusing to touch ${JSON.stringify(target)}: it is not inside ${JSON.stringify(root)}`);
  }
  return target;
};

/** The absolute local path of an S3 key inside `dir` (see {@link localRelativePath}), checked with {@link assertInside}. */
export const localPathInside = (dir: string, key: string): string => assertInside(dir, localRelativePath(key));
