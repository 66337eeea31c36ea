import { expect } from 'chai';
import { compareSequencers, isNewer } from '../../functions/core/newest';
import {
  isSuperseded,
  judgePublication,
  parsePublication,
  publicationKey,
  PublicationState,
  PublishVerdict,
  type Contender,
  type Publication,
} from '../../functions/core/publication';

const NOW = new Date('2026-11-24T10:00:00.000Z');
const OLD = '0055AED6DCD90281E5';
const NEW = '0055AED6DCD90281F0';

const record = (overrides: Partial<Publication> = {}): Publication => ({
  version: 1,
  folder: 'photos/tiger.jpg/',
  state: PublicationState.PUBLISHED,
  sequencer: OLD,
  fingerprint: 'f1',
  jobId: 'a'.repeat(32),
  owner: 'request-1',
  leaseUntil: '2026-11-24T10:05:00.000Z',
  updatedAt: '2026-11-24T09:59:00.000Z',
  ...overrides,
});
const contender = (overrides: Partial<Contender> = {}): Contender => ({ sequencer: OLD, fingerprint: 'f1', owner: 'request-2', ...overrides });

describe('core/newest', () => {
  it('orders sequencers as hexadecimal numbers of equal length', () => {
    expect(compareSequencers('0055AED6DCD90281E5', '0055AED6DCD90281F0')).to.equal(-1);
    expect(compareSequencers('FF', '0100')).to.equal(-1);
    expect(compareSequencers('0100', 'ff')).to.equal(1);
    expect(compareSequencers('00ab', 'AB')).to.equal(0);
    expect(isNewer('0055AED6DCD90281F0', '0055AED6DCD90281E5')).to.equal(true);
  });

  it('puts a missing sequencer before every real one', () => {
    expect(compareSequencers('', '00')).to.equal(0);
    expect(isNewer('01', '')).to.equal(true);
  });
});

describe('core/publication', () => {
  it('publishes into a folder nobody published to', () => {
    expect(judgePublication(undefined, contender(), NOW)).to.equal(PublishVerdict.PUBLISH);
  });

  it('never lets an older upload replace a newer one, published or being published', () => {
    expect(judgePublication(record({ sequencer: NEW }), contender({ sequencer: OLD }), NOW)).to.equal(PublishVerdict.SUPERSEDED);
    expect(judgePublication(record({ sequencer: NEW, state: PublicationState.PUBLISHING }), contender({ sequencer: OLD }), NOW)).to.equal(PublishVerdict.SUPERSEDED);
    expect(isSuperseded(record({ sequencer: NEW }), OLD)).to.equal(true);
    expect(isSuperseded(record({ sequencer: OLD }), OLD)).to.equal(false);
    expect(isSuperseded(undefined, OLD)).to.equal(false);
  });

  it('a newer upload replaces a published older one', () => {
    expect(judgePublication(record({ sequencer: OLD }), contender({ sequencer: NEW }), NOW)).to.equal(PublishVerdict.PUBLISH);
  });

  it('a duplicate delivery of a published outcome is a no-op; the same upload with another request publishes again', () => {
    expect(judgePublication(record(), contender(), NOW)).to.equal(PublishVerdict.ALREADY_PUBLISHED);
    expect(judgePublication(record(), contender({ fingerprint: 'f2' }), NOW)).to.equal(PublishVerdict.PUBLISH);
  });

  it('waits while another invocation holds the folder, and takes it once the lease ran out or when the holder is its own crashed attempt', () => {
    const busy = record({ state: PublicationState.PUBLISHING, owner: 'request-1' });
    expect(judgePublication(busy, contender({ sequencer: NEW }), NOW)).to.equal(PublishVerdict.WAIT);
    expect(judgePublication(busy, contender(), NOW)).to.equal(PublishVerdict.WAIT);
    expect(judgePublication({ ...busy, leaseUntil: '2026-11-24T09:59:59.999Z' }, contender({ sequencer: NEW }), NOW)).to.equal(PublishVerdict.PUBLISH);
    expect(judgePublication(busy, contender({ owner: 'request-1' }), NOW)).to.equal(PublishVerdict.PUBLISH);
  });

  it('keeps records under outcomes/, named by a hash of the folder', () => {
    expect(publicationKey('photos/tiger.jpg/')).to.match(/^outcomes\/[0-9a-f]{40}\.json$/);
    expect(publicationKey('photos/tiger.jpg/')).to.not.equal(publicationKey('photos/tiger.png/'));
  });

  it('reads what it wrote and refuses what is not a record', () => {
    expect(parsePublication(JSON.stringify(record()))).to.deep.equal(record());
    expect(() => parsePublication('{')).to.throw('Outcome record is not JSON');
    expect(() => parsePublication(JSON.stringify({ ...record(), state: 'sleeping' }))).to.throw('Outcome record is malformed');
  });
});
