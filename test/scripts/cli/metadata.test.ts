import { expect } from 'chai';
import { parseParameters } from '../../../functions/core/params';
import { decodeRfc2047 } from '../../../functions/core/rfc2047';
import { awsS3CpCommand, metadataJson, shellQuote } from '../../../scripts/cli/aws-command';
import { buildMetadata, checkMetadataSize, encodeMetadataValue, MAX_METADATA_BYTES, metadataBytes } from '../../../scripts/cli/metadata';

const TIGER = 'un tigre, dessiné à la main — 虎';
const LIMITS = { promptMaxLength: 10_000, negativePromptMaxLength: 10_000, seedMax: 10, countMax: 5, controlModes: ['CANNY_EDGE'], qualities: ['standard'] } as const;

describe('scripts/cli/metadata: user metadata that carries any prompt', () => {
  const prompts = [
    'a tiger as a hand drawn sketch',
    'a, b, and c',
    `she said "don't", then 'go'`,
    TIGER,
    'emoji 🐯 and tab\there',
    '  padded  ',
    'looks =?UTF-8?B?eA==?= encoded',
    'line\nbreak',
    '',
    '=?',
  ];

  it('leaves plain printable ASCII as it is, commas and quotes included', () => {
    expect(encodeMetadataValue('a, b "c" \'d\' = e')).to.equal('a, b "c" \'d\' = e');
  });

  it('sends everything else as one ASCII encoded word that functions/core decodes to exactly the value', () => {
    for (const prompt of prompts) {
      const sent = encodeMetadataValue(prompt);
      expect(sent, prompt).to.match(/^[\x20-\x7e]*$/);
      expect(sent.trim(), prompt).to.equal(sent);
      expect(decodeRfc2047(sent), prompt).to.equal(prompt);
      // The pipeline trims a prompt's outer spaces itself (and refuses an empty one).
      if (prompt.trim() !== '') expect(parseParameters({ prompt: sent }, {}, LIMITS as never).parameters.prompt, prompt).to.equal(prompt.trim());
    }
    expect(encodeMetadataValue(TIGER)).to.match(/^=\?UTF-8\?[BQ]\?/);
    expect(encodeMetadataValue('é')).to.equal('=?UTF-8?B?w6k=?=');
    // Mostly ASCII: the Q form is shorter, and readable.
    expect(encodeMetadataValue('un tigre dessiné à la main, très grand et très beau')).to.match(/^=\?UTF-8\?Q\?un_tigre_dessin=C3=A9/);
  });

  it('builds the metadata from --prompt and --metadata pairs (names lower-cased, values encoded, a pair overriding --prompt)', () => {
    expect(buildMetadata(TIGER, ['Count=2', 'negative-prompt=blur, noise'])).to.deep.equal({
      prompt: encodeMetadataValue(TIGER),
      count: '2',
      'negative-prompt': 'blur, noise',
    });
    expect(buildMetadata('x', ['prompt=y=z'])).to.deep.equal({ prompt: 'y=z' });
    expect(() => buildMetadata('x', ['novalue'])).to.throw('--metadata expects key=value but received "novalue"');
    expect(() => buildMetadata('x', ['bad name=1'])).to.throw(/a metadata name is letters/);
  });

  it("counts names plus encoded values against S3's 2 KB and refuses past it, naming the file and the limit", () => {
    const fits = buildMetadata('a'.repeat(MAX_METADATA_BYTES - 'prompt'.length));
    expect(metadataBytes(fits)).to.equal(2048);
    expect(checkMetadataSize('photo.jpg', fits)).to.equal(undefined);
    const over = buildMetadata('a'.repeat(MAX_METADATA_BYTES - 'prompt'.length + 1));
    expect(checkMetadataSize('photos/photo.jpg', over)).to.equal(
      "photos/photo.jpg: its metadata is 2,049 bytes, over S3's limit of 2,048 bytes (2 KB) per object (names plus values); shorten the prompt, or deploy it as the default prompt (Terraform variable default_prompt)",
    );
    // 600 CJK characters are 1,800 UTF-8 bytes, but 2,400 once encoded.
    expect(checkMetadataSize('x.jpg', buildMetadata('虎'.repeat(600)))).to.match(/^x\.jpg: its metadata is 2,4\d\d bytes.*non-ASCII values counted encoded/);
  });
});

describe('scripts/cli/aws-command: an aws s3 cp line that works for the prompt', () => {
  it('quotes for a POSIX shell only when needed', () => {
    expect(shellQuote('photo.jpg')).to.equal('photo.jpg');
    expect(shellQuote('my photo.jpg')).to.equal("'my photo.jpg'");
    expect(shellQuote("it's")).to.equal("'it'\\''s'");
    expect(shellQuote('$(rm -rf ~)')).to.equal("'$(rm -rf ~)'");
  });

  it('uses the JSON form of --metadata, encoded values, for commas, quotes and non-ASCII', () => {
    expect(metadataJson({ prompt: 'a, b' })).to.equal('{"prompt":"a, b"}');
    expect(awsS3CpCommand({ file: 'tiger.jpg', bucket: 'in', metadata: { prompt: `a "big", 'red' tiger` } })).to.equal(
      `aws s3 cp tiger.jpg s3://in/ --metadata '{"prompt":"a \\"big\\", '\\''red'\\'' tiger"}'`,
    );
    const line = awsS3CpCommand({ file: '-odd name.jpg', bucket: 'in', key: 'k/x.jpg', metadata: { prompt: TIGER }, endpoint: 'http://127.0.0.1:4566', env: { AWS_ACCESS_KEY_ID: 'local' } });
    expect(line).to.match(/^AWS_ACCESS_KEY_ID=local aws --endpoint-url http:\/\/127\.0\.0\.1:4566 s3 cp '\.\/-odd name\.jpg' s3:\/\/in\/k\/x\.jpg --metadata '\{"prompt":"=\?UTF-8\?[BQ]\?[^"]+\?="\}'$/);
    expect(line).to.match(/^[\x20-\x7e]*$/);
    const json = /--metadata '(.*)'$/.exec(line)![1]!;
    expect(decodeRfc2047(JSON.parse(json).prompt)).to.equal(TIGER);
  });
});
