import { expect } from 'chai';
import { outputKeys, outputPrefix } from '../../functions/core/naming';

describe('core/naming', () => {
  describe('outputPrefix', () => {
    const cases: Array<[key: string, prefix: string, why: string]> = [
      ['photos/tiger.jpg', 'photos/tiger', 'drops the extension'],
      ['tiger.jpg', 'tiger', 'works at the top level'],
      ['photos/tiger', 'photos/tiger', 'keeps a name without extension'],
      ['.hidden', '.hidden', 'a leading dot is not an extension'],
      ['photos/.hidden', 'photos/.hidden', 'a leading dot in a folder is not an extension'],
      ['a.b/c', 'a.b/c', 'a dot in a folder name is not an extension'],
      ['a.b/c.png', 'a.b/c', 'only the file name loses its extension'],
      ['tiger.tar.gz', 'tiger.tar', 'drops only the last extension'],
      ['my photos/Tiger im Schnee.jpeg', 'my photos/Tiger im Schnee', 'keeps spaces'],
      ['fotos/été/虎.png', 'fotos/été/虎', 'keeps unicode'],
    ];
    for (const [key, prefix, why] of cases) {
      it(`${key} → ${prefix} (${why})`, () => {
        expect(outputPrefix(key)).to.equal(prefix);
      });
    }
  });

  describe('outputKeys', () => {
    it('puts images, edges, manifest and error under the prefix', () => {
      const keys = outputKeys('photos/tiger.jpg');
      expect(keys.image(1)).to.equal('photos/tiger/1.png');
      expect(keys.image(5)).to.equal('photos/tiger/5.png');
      expect(keys.edges).to.equal('photos/tiger/edges.png');
      expect(keys.manifest).to.equal('photos/tiger/manifest.json');
      expect(keys.error).to.equal('photos/tiger/error.json');
    });

    it('nests a dotfile and an extensionless key as folders', () => {
      expect(outputKeys('.hidden').manifest).to.equal('.hidden/manifest.json');
      expect(outputKeys('photos/tiger').edges).to.equal('photos/tiger/edges.png');
    });
  
  describe('keys near S3\'s 1,024-byte limit', () => {
    it('keeps every output key within 1,024 bytes and tells long keys apart by a hash', () => {
      const long = `${'ü'.repeat(520)}.jpg`;
      const other = `${'ü'.repeat(520)}x.jpg`;

      const keys = outputKeys(long);

      expect(Buffer.byteLength(keys.manifest)).to.be.at.most(1024);
      expect(Buffer.byteLength(keys.image(5))).to.be.at.most(1024);
      expect(outputPrefix(long)).to.match(/~[0-9a-f]{16}$/);
      expect(outputPrefix(long)).to.not.include('\uFFFD');
      expect(outputPrefix(long)).to.not.equal(outputPrefix(other));
    });

    it('leaves a prefix that fits unchanged', () => {
      const fits = `${'a'.repeat(1010)}.jpg`;
      expect(outputPrefix(fits)).to.equal('a'.repeat(1010));
    });
  });
});
});
