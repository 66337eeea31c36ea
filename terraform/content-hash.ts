import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const filesUnder = (root: string, dir: string = root): string[] =>
  readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return filesUnder(root, path);
      // Symlinks are followed the way the zip follows them; anything else (sockets...) is not packaged.
      return entry.isFile() || (entry.isSymbolicLink() && statSync(path).isFile()) ? [path] : [];
    });

/**
 * A SHA-256 (hex) over every file below `dir`: its path relative to `dir`,
 * whether it is executable, and its content, in a fixed order. It changes
 * exactly when what Lambda would run changes, and not with timestamps or the
 * machine, so it serves as the asset hash and `source_code_hash` of a zipped
 * directory: unchanged code is not redeployed, changed code always is.
 */
export const directoryHash = (dir: string): string => {
  const hash = createHash('sha256');
  const files = filesUnder(dir)
    .map((path) => ({ path, name: relative(dir, path).split(sep).join('/') }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const { path, name } of files) {
    const content = readFileSync(path);
    const executable = (statSync(path).mode & 0o111) !== 0;
    // Length-prefixed fields, so no two different trees can feed the same bytes.
    hash.update(`${Buffer.byteLength(name)}:${name}:${executable ? 'x' : '-'}:${content.length}:`);
    hash.update(content);
  }
  return hash.digest('hex');
};
