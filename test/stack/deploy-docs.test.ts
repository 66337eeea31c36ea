import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArguments } from '../../scripts/deploy.js';
import { REPO_ROOT } from '../../terraform/app.js';
import { readSynthConfig } from '../../terraform/synth-config.js';
import { type StackJson, synthesize, writeStubDist } from './helpers.js';

// The README's deploy guide must match the stack.
const guides = (): string => readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

const rendered = (value: unknown): string => (typeof value === 'string' ? (value === '' ? '""' : value) : JSON.stringify(value));

describe('deploy guide', () => {
  let root: string;
  let stack: StackJson;

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'icp-docs-test-'));
    writeStubDist(root);
    ({ json: stack } = synthesize(root, readSynthConfig({})));
  });

  after(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('lists every variable with its default', () => {
    const text = guides();
    for (const [name, variable] of Object.entries(stack.variable)) {
      expect(text, name).to.include(`| \`${name}\` | \`${rendered(variable.default)}\` |`);
    }
  });

  it('lists every output', () => {
    const text = guides();
    for (const name of Object.keys(stack.output)) {
      expect(text, name).to.include(`| \`${name}\` |`);
    }
  });
});

describe('deploy script arguments', () => {
  it('takes the mode, --skip-preflight, and passes everything else to terraform', () => {
    expect(parseArguments(['deploy', '-var', 'alarm_email=a@b.co', '--skip-preflight', '-auto-approve'])).to.deep.equal({
      mode: 'deploy',
      skipPreflight: true,
      terraformArgs: ['-var', 'alarm_email=a@b.co', '-auto-approve'],
    });
    expect(parseArguments(['destroy'])).to.deep.equal({ mode: 'destroy', skipPreflight: false, terraformArgs: [] });
  });

  it('refuses anything but deploy or destroy', () => {
    expect(() => parseArguments(['apply'])).to.throw(Error, 'Expected deploy or destroy as the first argument but received "apply"');
  });
});
