import { expect } from 'chai';
import { decodeRfc2047 } from '../../functions/core/rfc2047';

const b64 = (text: string, encoding: BufferEncoding = 'utf8'): string => Buffer.from(text, encoding).toString('base64');

describe('core/rfc2047', () => {
  describe('decodeRfc2047', () => {
    it('decodes a B (base64) encoded UTF-8 word', () => {
      expect(decodeRfc2047(`=?UTF-8?B?${b64('ein Tiger als Skizze – 虎')}?=`)).to.equal('ein Tiger als Skizze – 虎');
    });

    it('decodes a Q encoded UTF-8 word, with _ as space and =XX as bytes', () => {
      expect(decodeRfc2047('=?UTF-8?Q?caf=C3=A9_au_lait?=')).to.equal('café au lait');
    });

    it('accepts lower-case charset and encoding letters (utf-8, b, q)', () => {
      expect(decodeRfc2047(`=?utf-8?b?${b64('été')}?=`)).to.equal('été');
      expect(decodeRfc2047('=?utf-8?q?=C3=A9t=C3=A9?=')).to.equal('été');
    });

    it('joins two adjacent encoded words without the whitespace between them', () => {
      const value = `=?UTF-8?B?${b64('ein Tiger ')}?= =?UTF-8?B?${b64('im Schnee')}?=`;
      expect(decodeRfc2047(value)).to.equal('ein Tiger im Schnee');
    });

    it('joins adjacent encoded words across folding whitespace (CRLF + tab)', () => {
      expect(decodeRfc2047('=?UTF-8?Q?a?=\r\n\t=?UTF-8?Q?b?=')).to.equal('ab');
    });

    it('leaves plain text untouched, including text with = and ?', () => {
      for (const plain of ['a tiger in the snow', 'x = 1? yes', 'what =? is this', '']) {
        expect(decodeRfc2047(plain)).to.equal(plain);
      }
    });

    it('decodes ISO-8859-1 in both B and Q encodings', () => {
      expect(decodeRfc2047('=?ISO-8859-1?Q?caf=E9?=')).to.equal('café');
      expect(decodeRfc2047(`=?iso-8859-1?B?${b64('Größe', 'latin1')}?=`)).to.equal('Größe');
    });

    it('leaves an encoded word with an unknown charset as it is', () => {
      expect(decodeRfc2047('=?x-klingon?B?YWJj?=')).to.equal('=?x-klingon?B?YWJj?=');
    });

    it('leaves an encoded word whose bytes are not valid in its charset as it is', () => {
      // 0xFF can never appear in UTF-8.
      expect(decodeRfc2047('=?UTF-8?B?/w==?=')).to.equal('=?UTF-8?B?/w==?=');
    });

    it('keeps the text around encoded words, with its spaces', () => {
      expect(decodeRfc2047('Prompt: =?UTF-8?Q?caf=C3=A9?= please')).to.equal('Prompt: café please');
      expect(decodeRfc2047(`before=?UTF-8?B?${b64('虎')}?=after`)).to.equal('before虎after');
    });
  });
});
