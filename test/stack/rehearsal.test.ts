import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { rehearse, type RehearsalReport } from '../../scripts/rehearse.js';
import { REAL_STACK_DIR } from './helpers.js';

// `npm run rehearse` as a test: apply the synthesized stack to moto_server, check it
// through the AWS SDK, destroy it, check nothing is left (see scripts/rehearse.ts).
// About two minutes, most of it the provider waiting on the buckets' lifecycle configurations
// and on the queues' attributes.

describe('rehearsal against moto_server (apply, check, destroy)', function () {
  this.timeout(240_000);
  let report: RehearsalReport;
  const lines: string[] = [];

  before(async () => {
    if (!existsSync(join(REAL_STACK_DIR, 'cdk.tf.json'))) {
      throw new Error(`${REAL_STACK_DIR}/cdk.tf.json does not exist: run npm run synth first (npm test does).`);
    }
    report = await rehearse({ log: (line) => lines.push(line) });
  });

  it('applies every resource of the stack', () => {
    expect(report.resourcesApplied, lines.join('\n')).to.be.at.least(30);
  });

  it('finds what was applied right, and a second plan with nothing to change', () => {
    expect(report.failures, lines.join('\n')).to.deep.equal([]);
    expect(report.checks).to.include('a second plan finds nothing to change (unchanged code is not redeployed)');
    expect(report.checks.length).to.be.at.least(30);
    expect(report.checks).to.include.members([
      'only the output bucket is versioned',
      'output versions replaced or deleted expire after 30 days; unfinished uploads after 1',
      'prepare may write only under jobs/ in the staging bucket',
      'generate reads jobs/, keeps claims/ and outcomes/, lists the staging bucket, and writes, replaces and lists results',
      'prepare may consume its own queue only, and send to no queue',
      'generate may consume its own queue only, and send to no queue',
      'an alarm per stage queue fires when its oldest message is older than a day',
      'an alarm fires when more than 0.2 of the outcomes in an hour failed (metric math on Outcomes)',
      'an alarm fires when Bedrock throttles the model in 3 five-minute periods running',
      "the dashboard shows every widget, with the names of this deploy's functions and queues filled in",
      "upload_command uploads to the input bucket with the prompt in the CLI's JSON metadata form",
    ]);
    expect(report.checks.filter((check) => /^an alarm fires when .+ fails invocations in 3 of 5 minutes$/.test(check))).to.have.lengthOf(2);
    expect(report.checks.filter((check) => / reads its queue in batches of \d+, reporting partial failures, at most \d+ at once$/.test(check))).to.have.lengthOf(2);
    expect(report.checks.filter((check) => /^the spend-ceiling outputs equal spendCeiling\(\) for /.test(check))).to.have.lengthOf(1);
  });

  it('says what moto cannot do and was left out', () => {
    expect(report.skipped).to.have.lengthOf(5);
    for (const skipped of report.skipped) expect(lines.join('\n')).to.include(`skipped (moto cannot): ${skipped}`);
  });

  it('destroys everything it applied and leaves nothing behind', () => {
    expect(report.resourcesDestroyed).to.equal(report.resourcesApplied);
    for (const check of ['no bucket is left', 'no function or layer is left', 'no event source mapping is left', 'no queue is left', 'no alarm is left', 'no dashboard is left']) {
      expect(report.checks).to.include(check);
    }
  });

  it('stops moto_server', () => {
    expect(lines.at(-1)).to.match(/^moto_server \(pid \d+\) stopped$/);
  });
});
