import { expect } from 'chai';
import { MAX_OUTPUT_NAME_BYTES, OutputFile } from '../../functions/core/layout';
import { outputFolder, outputKeys } from '../../functions/core/naming';

describe('core/naming', () => {
  describe('outputFolder: readable for ordinary names', () => {
    const cases: Array<[key: string, folder: string, why: string]> = [
      ['photos/tiger.jpg', 'photos/tiger.jpg/', 'keeps the whole key, extension included'],
      ['tiger.jpg', 'tiger.jpg/', 'works at the top level'],
      ['photos/tiger', 'photos/tiger/', 'keeps a name without extension'],
      ['.hidden', '.hidden/', 'a dotfile'],
      ['my photos/Tiger im Schnee.jpeg', 'my photos/Tiger im Schnee.jpeg/', 'keeps spaces'],
      ['fotos/été/虎.png', 'fotos/été/虎.png/', 'keeps unicode'],
      ['scans/', 'scans//', 'a key ending in / with content gets a folder of its own'],
      ['~backup.jpg', '~~backup.jpg/', 'doubles a tilde'],
    ];
    for (const [key, folder, why] of cases) {
      it(`${key} → ${folder} (${why})`, () => {
        expect(outputFolder(key)).to.equal(folder);
      });
    }
  });

  describe('outputFolder: one folder per key, never shared', () => {
    it('gives keys differing only in extension, or in having one, folders of their own', () => {
      const keys = ['tiger.jpg', 'tiger.png', 'tiger', 'a/b', 'a/b.png', 'a/b.jpg'];
      expect(new Set(keys.map(outputFolder)).size).to.equal(keys.length);
    });

    it("keeps a folder's own files apart from a nested key's: the objects directly in it belong to one key", () => {
      const outer = outputKeys('a/b');
      const inner = outputKeys('a/b/manifest.json');
      expect(outer.manifest).to.equal('a/b/manifest.json');
      expect(inner.manifest).to.equal('a/b/manifest.json/manifest.json');
      // The owner of an object in the output bucket is everything before its last slash.
      const owner = (objectKey: string): string => objectKey.slice(0, objectKey.lastIndexOf('/') + 1);
      expect(owner(outer.manifest)).to.equal(outputFolder('a/b'));
      expect(owner(inner.manifest)).to.equal(outputFolder('a/b/manifest.json'));
    });

    it('never maps a crafted short key onto the folder of a long key', () => {
      const long = `${'x'.repeat(1100)}.jpg`;
      const folder = outputFolder(long);
      // Upload the long key's folder name itself (without the slash), and with tildes around it.
      const crafted = [folder.slice(0, -1), folder.slice(0, -1).replace(/~(?=[0-9a-f]{32}$)/, ''), `${folder.slice(0, -1)}~`];
      for (const key of crafted) expect(outputFolder(key)).to.not.equal(folder);
    });

    it('is injective over a corpus of awkward keys (tildes, near-limit lengths, multi-byte cuts)', () => {
      const keys = new Set<string>();
      for (const base of ['', '~', '~~', 'a~', 'a~~', '~a', 'ü', '虎']) {
        for (const length of [0, 1, 980, 988, 989, 990, 991, 992, 1000, 1020]) {
          keys.add(base + 'a'.repeat(length));
          keys.add('a'.repeat(length) + base);
          keys.add('~'.repeat(Math.min(length, 600)) + base);
          keys.add('ü'.repeat(Math.floor(length / 2)) + base);
        }
      }
      const folders = new Map<string, string>();
      for (const key of keys) {
        const folder = outputFolder(key);
        expect(folders.get(folder), `${JSON.stringify(key.slice(0, 20))}… and another key share ${folder.slice(0, 20)}…`).to.equal(undefined);
        folders.set(folder, key);
      }
    });
  });

  describe("keys near S3's 1,024-byte limit", () => {
    it('keeps every output key within 1,024 bytes, with room for any file name, and tells long keys apart by a hash', () => {
      const long = `${'ü'.repeat(520)}.jpg`;
      const other = `${'ü'.repeat(520)}x.jpg`;

      const folder = outputFolder(long);

      expect(Buffer.byteLength(folder) + MAX_OUTPUT_NAME_BYTES).to.be.at.most(1024);
      expect(folder).to.match(/[^~]~[0-9a-f]{32}\/$/);
      expect(folder).to.not.include('\uFFFD');
      expect(folder).to.not.equal(outputFolder(other));
    });

    it('leaves a key that fits as it is', () => {
      const fits = 'a'.repeat(1024 - MAX_OUTPUT_NAME_BYTES - 1);
      expect(outputFolder(fits)).to.equal(`${fits}/`);
      expect(outputFolder(`${fits}a`)).to.match(/~[0-9a-f]{32}\/$/);
    });

    it('never splits a doubled tilde when it cuts a long key', () => {
      for (let shift = 0; shift < 4; shift++) {
        const folder = outputFolder(`${'a'.repeat(shift)}${'~'.repeat(1000)}`);
        const run = /(~+)[0-9a-f]{32}\/$/.exec(folder)![1]!;
        expect(run.length % 2, `shift ${shift}`).to.equal(1);
      }
    });

    it('has every file name fit the room kept for it', () => {
      for (const name of [OutputFile.EDGES, OutputFile.MANIFEST, OutputFile.ERROR, OutputFile.image(99)]) {
        expect(Buffer.byteLength(name)).to.be.at.most(MAX_OUTPUT_NAME_BYTES);
      }
    });
  });

  describe('outputKeys', () => {
    it('puts images, edges, manifest and error in the folder', () => {
      const keys = outputKeys('photos/tiger.jpg');
      expect(keys.folder).to.equal('photos/tiger.jpg/');
      expect(keys.image(1)).to.equal('photos/tiger.jpg/1.png');
      expect(keys.image(5)).to.equal('photos/tiger.jpg/5.png');
      expect(keys.edges).to.equal('photos/tiger.jpg/edges.png');
      expect(keys.manifest).to.equal('photos/tiger.jpg/manifest.json');
      expect(keys.error).to.equal('photos/tiger.jpg/error.json');
    });
  });
});
