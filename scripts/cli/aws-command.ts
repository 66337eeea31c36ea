/**
 * The `aws s3 cp` command line that uploads a photo with given metadata, for any prompt.
 *
 * The aws CLI's shorthand (`--metadata prompt="a, b"`) splits at commas: `prompt=a, b` turns
 * into a list and the CLI stops with `Invalid type for parameter Metadata.prompt`. Its JSON form
 * (`--metadata '{"prompt":"a, b"}'`) takes any value. aws-cli 1.x refuses non-ASCII metadata, so
 * values are sent encoded as metadata.ts does (`=?UTF-8?B?…?=`), which the pipeline decodes.
 * Everything is quoted for a POSIX shell (sh, bash, zsh): single quotes, with `'` written `'\''`.
 *
 * @module
 */
import { encodeMetadataValue } from './metadata';

const SHELL_SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** `value` as one POSIX shell word. */
export const shellQuote = (value: string): string => (SHELL_SAFE.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`);

export interface AwsCpOptions {
  /** The local file. */
  readonly file: string;
  readonly bucket: string;
  /** The key; default: the file's name (`s3://bucket/` form). */
  readonly key?: string;
  /** Metadata as the user means it (not encoded: this encodes what needs it). */
  readonly metadata: Readonly<Record<string, string>>;
  /** `--endpoint-url`, for a local S3. */
  readonly endpoint?: string;
  /** Variables to set before the command (`NAME=value aws …`). */
  readonly env?: Readonly<Record<string, string>>;
}

/** The metadata as the JSON the CLI's `--metadata` takes, values encoded. */
export const metadataJson = (metadata: Readonly<Record<string, string>>): string =>
  JSON.stringify(Object.fromEntries(Object.entries(metadata).map(([name, value]) => [name.toLowerCase(), encodeMetadataValue(value)])));

export const awsS3CpCommand = (options: AwsCpOptions): string => {
  const words = [
    ...Object.entries(options.env ?? {}).map(([name, value]) => `${name}=${shellQuote(value)}`),
    'aws',
    ...(options.endpoint ? ['--endpoint-url', shellQuote(options.endpoint)] : []),
    's3',
    'cp',
    // A file name starting with "-" would read as an option.
    shellQuote(options.file.startsWith('-') ? `./${options.file}` : options.file),
    shellQuote(`s3://${options.bucket}/${options.key ?? ''}`),
    '--metadata',
    shellQuote(metadataJson(options.metadata)),
  ];
  return words.join(' ');
};
