import { TextDecoder } from 'node:util';

/**
 * S3 returns a non-ASCII user-metadata value as RFC 2047 encoded words
 * (`=?UTF-8?B?…?=`, sometimes `Q` encoding, sometimes several words in a row).
 * Plain values pass through unchanged.
 */
const ENCODED_WORD = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;
// Whitespace between two adjacent encoded words is not part of the text (RFC 2047 §6.2).
const BETWEEN_WORDS = /(\?=)\s+(=\?)/g;

const decodeQ = (text: string): Uint8Array => {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '_') bytes.push(0x20);
    else if (ch === '=' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(ch.charCodeAt(0) & 0xff);
  }
  return Uint8Array.from(bytes);
};

export const decodeRfc2047 = (value: string): string => {
  if (!value.includes('=?')) return value;
  return value.replace(BETWEEN_WORDS, '$1$2').replace(ENCODED_WORD, (word, charset: string, encoding: string, text: string) => {
    let decoder: TextDecoder;
    try {
      decoder = new TextDecoder(charset.toLowerCase(), { fatal: true });
    } catch {
      return word;
    }
    const bytes = encoding.toUpperCase() === 'B' ? Buffer.from(text, 'base64') : decodeQ(text);
    try {
      return decoder.decode(bytes);
    } catch {
      return word;
    }
  });
};
