/**
 * Output naming: everything about `photos/tiger.jpg` goes under
 * `photos/tiger/` in the output bucket. Two uploads that differ only in
 * extension share a folder; the later one wins, as with any S3 overwrite.
 */
export const outputPrefix = (key: string): string => {
  const slash = key.lastIndexOf('/');
  const dot = key.lastIndexOf('.');
  // A dot at the start of the file name (".profile") is not an extension.
  return dot > slash + 1 ? key.slice(0, dot) : key;
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
