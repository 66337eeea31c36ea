/**
 * S3 user metadata that carries any prompt intact.
 *
 * S3 sends user metadata as HTTP headers (`x-amz-meta-<name>`), which hold printable ASCII
 * only: Node's HTTP client refuses other characters, aws-cli 1.x refuses them ("S3 metadata
 * can only contain ASCII characters"), and leading or trailing spaces do not survive a header.
 * So a value that is not plain ASCII is sent as one RFC 2047 encoded word,
 * `=?UTF-8?B?<base64 of the UTF-8 bytes>?=` (or the `Q` form, `=?UTF-8?Q?un_tigre=2C_…?=`,
 * when that is shorter), which functions/core/params.ts decodes (functions/core/rfc2047.ts)
 * before using it. S3 itself hands non-ASCII metadata back the same way.
 *
 * Encoded: anything outside printable ASCII (accents, CJK, emoji, tabs, new lines), leading or
 * trailing spaces, and a plain value that contains `=?` (so it cannot be mistaken for an
 * encoded word on the way back). Commas, quotes and `=` pass as they are: they are only a
 * problem for the aws CLI's shorthand syntax, which aws-command.ts avoids.
 *
 * S3 limits user metadata to 2 KB per object: the UTF-8 bytes of every name and value (as
 * sent, so an encoded value counts at its encoded length) added up must not exceed 2,048.
 * {@link checkMetadataSize} refuses before uploading, naming the file and the limit.
 *
 * @module
 */

/** S3's limit on one object's user metadata: names plus values, UTF-8 bytes. */
export const MAX_METADATA_BYTES = 2048;

const PLAIN = /^[\x20-\x7e]*$/;

/** True when `value` can be sent as it is. */
export const isPlainValue = (value: string): boolean => PLAIN.test(value) && !value.includes('=?') && value.trim() === value;

const bEncoded = (value: string): string => `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;

/** RFC 2047 `Q`: ASCII letters and digits stay, space is `_`, every other byte `=XX`. */
const qEncoded = (value: string): string => {
  let text = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    if (byte === 0x20) text += '_';
    else if ((byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || byte === 0x2d || byte === 0x2e) text += String.fromCharCode(byte);
    else text += `=${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return `=?UTF-8?Q?${text}?=`;
};

/** The value to send for `value`: itself when plain ASCII, else the shorter encoded word. */
export const encodeMetadataValue = (value: string): string => {
  if (isPlainValue(value)) return value;
  const b = bEncoded(value);
  const q = qEncoded(value);
  return q.length < b.length ? q : b;
};

/** A metadata name S3 and the aws CLI both take as it is: letters, digits, `-`, `_`, `.`. S3 lower-cases names. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * The metadata as the user means it: `prompt` (when given) and each `key=value` pair (later
 * ones win; a pair overrides --prompt), names lower-cased, values not encoded yet.
 * @throws Error for a pair without `=` or with a name S3 would not keep as given.
 */
export const rawMetadata = (prompt: string | undefined, pairs: readonly string[] = []): Record<string, string> => {
  const raw: Record<string, string> = {};
  if (prompt !== undefined) raw.prompt = prompt;
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`--metadata expects key=value but received ${JSON.stringify(pair)}`);
    const name = pair.slice(0, at);
    if (!NAME.test(name)) throw new Error(`--metadata ${JSON.stringify(name)}: a metadata name is letters, digits, "-", "_" and "." (e.g. negative-prompt)`);
    raw[name.toLowerCase()] = pair.slice(at + 1);
  }
  return raw;
};

/** Every value encoded for S3 ({@link encodeMetadataValue}). */
export const encodeMetadata = (raw: Readonly<Record<string, string>>): Record<string, string> =>
  Object.fromEntries(Object.entries(raw).map(([name, value]) => [name, encodeMetadataValue(value)]));

/** The metadata to send: {@link rawMetadata}, encoded. */
export const buildMetadata = (prompt: string | undefined, pairs: readonly string[] = []): Record<string, string> => encodeMetadata(rawMetadata(prompt, pairs));

/** Bytes S3 counts for this (already encoded) metadata. */
export const metadataBytes = (metadata: Readonly<Record<string, string>>): number =>
  Object.entries(metadata).reduce((sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(value), 0);

/**
 * Undefined when S3 accepts this metadata, else a message naming `file`, the size and the limit
 * (S3 would answer `MetadataTooLarge` and store nothing).
 */
export const checkMetadataSize = (file: string, metadata: Readonly<Record<string, string>>): string | undefined => {
  const bytes = metadataBytes(metadata);
  if (bytes <= MAX_METADATA_BYTES) return undefined;
  const encoded = Object.entries(metadata).some(([, value]) => value.startsWith('=?'));
  return (
    `${file}: its metadata is ${bytes.toLocaleString('en-US')} bytes, over S3's limit of ${MAX_METADATA_BYTES.toLocaleString('en-US')} bytes (2 KB) per object ` +
    `(names plus values${encoded ? ', non-ASCII values counted encoded' : ''}); shorten the prompt, or deploy it as the default prompt (Terraform variable default_prompt)`
  );
};
