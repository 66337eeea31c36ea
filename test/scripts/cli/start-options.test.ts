import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../../../scripts/build-functions';
import { START_USAGE, wantsHelp } from '../../../scripts/cli/start-options';

describe('npm start -- --help: answered before the build', () => {
  it('sees --help or -h, but not as the value of an option or after --', () => {
    expect(wantsHelp(['--help'])).to.equal(true);
    expect(wantsHelp(['photos/', '-h'])).to.equal(true);
    expect(wantsHelp(['--prompt', '--help'])).to.equal(false);
    expect(wantsHelp(['--prompt=x', '--help'])).to.equal(true);
    expect(wantsHelp(['--', '--help'])).to.equal(false);
    expect(wantsHelp(['a.png', '--watch'])).to.equal(false);
  });

  it('prints the usage from scripts/cli/start.ts within seconds, without building', async function () {
    this.timeout(30_000);
    const started = Date.now();
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'cli', 'start.ts'), '--help'], { cwd: ROOT });
    expect(stdout.trim()).to.equal(START_USAGE);
    // tsx's start-up only; the build and synth take 13 s and more.
    expect(Date.now() - started).to.be.below(8000);
  });
});
