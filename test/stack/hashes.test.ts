import { expect } from 'chai';
import { chmodSync, cpSync, mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { directoryHash } from '../../terraform/content-hash.js';
import { DEFAULT_SYNTH, type StackJson, synthesize, writeStubDist } from './helpers.js';

// source_code_hash decides whether `apply` uploads code again: it must change
// exactly when the packaged directory does.

const codeHashes = (stack: StackJson): Record<string, unknown> => ({
  prepare: stack.resource.aws_lambda_function?.prepare?.source_code_hash,
  generate: stack.resource.aws_lambda_function?.generate?.source_code_hash,
  sharp: stack.resource.aws_lambda_layer_version?.sharp?.source_code_hash,
});

describe('content hashes', () => {
  let root: string;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'icp-hash-test-'));
  });

  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  describe('directoryHash', () => {
    it('is the same for the same files wherever they are and whatever their timestamps', () => {
      // Arrange
      const dist = writeStubDist(root);
      const copy = join(root, 'copy');
      cpSync(join(dist, 'functions', 'prepare'), copy, { recursive: true });
      utimesSync(join(copy, 'index.mjs'), new Date(0), new Date(0));
      // Act / Assert
      expect(directoryHash(copy)).to.equal(directoryHash(join(dist, 'functions', 'prepare'))).and.match(/^[0-9a-f]{64}$/);
    });

    it('changes with a file\'s content, its name, or its executable bit', () => {
      // Arrange
      const dir = join(writeStubDist(root), 'functions', 'prepare');
      const original = directoryHash(dir);
      // Act / Assert
      writeFileSync(join(dir, 'index.mjs'), 'export const handler = async () => 1;\n');
      const edited = directoryHash(dir);
      expect(edited).to.not.equal(original);
      renameSync(join(dir, 'index.mjs'), join(dir, 'main.mjs'));
      const renamed = directoryHash(dir);
      expect(renamed).to.not.equal(edited);
      chmodSync(join(dir, 'main.mjs'), 0o755);
      expect(directoryHash(dir)).to.not.equal(renamed);
    });
  });

  describe('synthesized source_code_hash', () => {
    it('does not change when nothing changed, and changes only for the function whose code changed', () => {
      // Arrange
      const dist = writeStubDist(root);
      // Act
      const first = codeHashes(synthesize(root, DEFAULT_SYNTH).json);
      const again = codeHashes(synthesize(root, DEFAULT_SYNTH).json);
      writeFileSync(join(dist, 'functions', 'generate', 'index.mjs'), "export const handler = async () => 'generate v2';\n");
      const changed = codeHashes(synthesize(root, DEFAULT_SYNTH).json);
      // Assert
      expect(again).to.deep.equal(first);
      expect(changed.prepare).to.equal(first.prepare);
      expect(changed.sharp).to.equal(first.sharp);
      expect(changed.generate).to.not.equal(first.generate);
      expect(changed.generate).to.equal(directoryHash(join(dist, 'functions', 'generate')));
    });
  });
});
