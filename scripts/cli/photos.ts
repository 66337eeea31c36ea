/**
 * Which files a command line names: each argument a file or a folder; folders are walked
 * recursively. Every file found is uploaded (the pipeline, not the file name, decides what is
 * a photo: a non-image ends as `UNSUPPORTED_FORMAT` in the gallery, with its reason).
 *
 * - Order is stable: the arguments in the order given; inside a folder, entries sorted by
 *   name (code-point order, not the locale's), depth first.
 * - Hidden entries (a name starting with `.`: `.DS_Store`, `.git/`…) inside a folder are
 *   skipped; a hidden file named explicitly is kept (the user asked for it).
 * - Anything that is not a regular file or folder (missing path, socket, FIFO, device, a
 *   symbolic link to nothing) is reported, not uploaded. Symbolic links to files are followed;
 *   links to folders are followed once (a folder already walked is not walked again, so a
 *   link loop ends).
 * - The same file named twice (say `a.jpg` and `./a.jpg`, or a file and its folder) is taken
 *   once.
 *
 * @module
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

export interface FoundPhoto {
  /** Absolute path of the file. */
  readonly path: string;
  /** The argument it was found through (a file or a folder), resolved. */
  readonly root: string;
  /** True when `root` is a folder (the file was found by walking it). */
  readonly inFolder: boolean;
}

export interface Skipped {
  readonly path: string;
  readonly reason: string;
}

export interface FoundPhotos {
  readonly photos: readonly FoundPhoto[];
  /** Paths named or met that are not files to upload, with why. */
  readonly problems: readonly Skipped[];
}

export const isHidden = (name: string): boolean => name.startsWith('.');

const kindOf = (stats: Awaited<ReturnType<typeof stat>>): string =>
  stats.isSocket() ? 'a socket' : stats.isFIFO() ? 'a FIFO' : stats.isCharacterDevice() || stats.isBlockDevice() ? 'a device' : 'not a regular file';

/** Code-point order, so the order does not depend on the machine's locale. */
const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export const findPhotos = async (args: readonly string[], cwd: string = process.cwd()): Promise<FoundPhotos> => {
  const photos: FoundPhoto[] = [];
  const problems: Skipped[] = [];
  const seenFiles = new Set<string>();
  const seenFolders = new Set<string>();

  const addFile = async (path: string, root: string, inFolder: boolean): Promise<void> => {
    const real = await realpath(path);
    if (seenFiles.has(real)) return;
    seenFiles.add(real);
    photos.push({ path, root, inFolder });
  };

  const walk = async (folder: string, root: string): Promise<void> => {
    const real = await realpath(folder);
    if (seenFolders.has(real)) return;
    seenFolders.add(real);
    const names = (await readdir(folder)).filter((name) => !isHidden(name)).sort(byName);
    for (const name of names) {
      const path = join(folder, name);
      const stats = await stat(path).catch(() => undefined);
      if (!stats) problems.push({ path, reason: 'a broken symbolic link' });
      else if (stats.isDirectory()) await walk(path, root);
      else if (stats.isFile()) await addFile(path, root, true);
      else problems.push({ path, reason: kindOf(stats) });
    }
  };

  for (const arg of args) {
    const path = resolve(cwd, arg);
    const stats = await stat(path).catch((error: NodeJS.ErrnoException) => error);
    if (stats instanceof Error) {
      problems.push({ path: arg, reason: stats.code === 'ENOENT' ? 'no such file or folder' : `cannot be read (${stats.code ?? stats.message})` });
    } else if (stats.isDirectory()) {
      await walk(path, path);
    } else if (stats.isFile()) {
      await addFile(path, path, false);
    } else {
      problems.push({ path: arg, reason: kindOf(stats) });
    }
  }
  return { photos, problems };
};
