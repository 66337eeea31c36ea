import { AccessDeniedException, ThrottlingException, ValidationException } from '@aws-sdk/client-bedrock-runtime';
import { expect } from 'chai';
import type { FailureReason } from '../../../functions/core/errors';
import { classifyInvokeFailure, type InvokeFailure } from '../../../functions/core/models/bedrock-errors';

const MODEL = 'amazon.titan-image-generator-v2:0';
const failure = (name: string, message: string, httpStatusCode?: number, code?: string): InvokeFailure => ({
  name,
  message,
  ...(httpStatusCode !== undefined ? { $metadata: { httpStatusCode } } : {}),
  ...(code !== undefined ? { code } : {}),
});

const cases: Array<[label: string, error: InvokeFailure, reason: FailureReason, permanent: boolean]> = [
  ['ValidationException, content filter', failure('ValidationException', 'This request has been blocked by our content filters. Please adjust your text prompt to submit a new request.', 400), 'CONTENT_FILTERED', true],
  ['ValidationException, invalid model identifier', failure('ValidationException', 'The provided model identifier is invalid.', 400), 'MODEL_UNAVAILABLE', true],
  ['ValidationException, on-demand not supported (typographic apostrophe)', failure('ValidationException', 'Invocation of model ID stability.stable-image-control-sketch-v1:0 with on-demand throughput isn’t supported. Retry your request with the ID or ARN of an inference profile that contains this model.', 400), 'MODEL_UNAVAILABLE', true],
  ['ValidationException, on-demand not supported (straight apostrophe)', failure('ValidationException', "Invocation of model ID x with on-demand throughput isn't supported.", 400), 'MODEL_UNAVAILABLE', true],
  ['ValidationException, schema', failure('ValidationException', 'Malformed input request: #/textToImageParams: extraneous key [x] is not permitted, please reformat your input and try again.', 400), 'MODEL_REJECTED_REQUEST', true],
  ['AccessDeniedException', failure('AccessDeniedException', 'You don\'t have access to the model with the specified model ID.', 403), 'ACCESS_DENIED', true],
  ['ResourceNotFoundException (end of life)', failure('ResourceNotFoundException', 'This model version has reached the end of its life. Please refer to the AWS documentation for more details.', 404), 'MODEL_UNAVAILABLE', true],
  ['ModelTimeoutException', failure('ModelTimeoutException', 'Model timed out', 408), 'SERVICE_UNAVAILABLE', false],
  ['ModelErrorException', failure('ModelErrorException', 'The model failed to process the request', 424), 'MODEL_ERROR', true],
  ['ThrottlingException', failure('ThrottlingException', 'Too many requests, please wait before trying again.', 429), 'THROTTLED', false],
  ['ModelNotReadyException', failure('ModelNotReadyException', 'Model is not ready', 429), 'THROTTLED', false],
  ['ServiceQuotaExceededException', failure('ServiceQuotaExceededException', 'Quota exceeded', 400), 'THROTTLED', false],
  ['InternalServerException', failure('InternalServerException', 'Internal error', 500), 'SERVICE_UNAVAILABLE', false],
  ['ServiceUnavailableException', failure('ServiceUnavailableException', 'Service unavailable', 503), 'SERVICE_UNAVAILABLE', false],
  ['unnamed HTTP 500', failure('UnknownError', 'oops', 500), 'SERVICE_UNAVAILABLE', false],
  ['unnamed HTTP 503', failure('UnknownError', 'oops', 503), 'SERVICE_UNAVAILABLE', false],
  ['unnamed HTTP 429', failure('UnknownError', 'slow down', 429), 'THROTTLED', false],
  ['unnamed HTTP 400', failure('SerializationException', 'bad body', 400), 'MODEL_REJECTED_REQUEST', true],
  ['ECONNRESET', failure('Error', 'socket hang up', undefined, 'ECONNRESET'), 'SERVICE_UNAVAILABLE', false],
  ['ENOTFOUND', failure('Error', 'getaddrinfo ENOTFOUND bedrock-runtime.us-east-1.amazonaws.com', undefined, 'ENOTFOUND'), 'SERVICE_UNAVAILABLE', false],
  ['TimeoutError', failure('TimeoutError', 'Connection timed out after 120000 ms'), 'SERVICE_UNAVAILABLE', false],
  ['AbortError', failure('AbortError', 'The operation was aborted'), 'SERVICE_UNAVAILABLE', false],
];

describe('core/models/bedrock-errors', () => {
  describe('classifyInvokeFailure', () => {
    for (const [label, error, reason, permanent] of cases) {
      it(`${label} → ${reason} (${permanent ? 'permanent' : 'transient'})`, () => {
        const classified = classifyInvokeFailure(error, MODEL);
        expect(classified.reason).to.equal(reason);
        expect(classified.permanent).to.equal(permanent);
      });
    }

    it('keeps the model id, the exception name and the service message, with the original as cause', () => {
      const error = failure('ValidationException', 'The provided model identifier is invalid.', 400);
      const classified = classifyInvokeFailure(error, MODEL);
      expect(classified.message).to.equal('amazon.titan-image-generator-v2:0: ValidationException: The provided model identifier is invalid.');
      expect(classified.cause).to.equal(error);
    });

    it('treats a failure with neither name, message, status nor code as transient, naming it Error', () => {
      const classified = classifyInvokeFailure({}, MODEL);
      expect(classified.reason).to.equal('SERVICE_UNAVAILABLE');
      expect(classified.message).to.equal('amazon.titan-image-generator-v2:0: Error: Error');
    });

    it('classifies the SDK\'s own exception classes by their name', () => {
      const metadata = { httpStatusCode: 400 };
      const validation = new ValidationException({ message: 'This request has been blocked by our content filters.', $metadata: metadata });
      const throttled = new ThrottlingException({ message: 'Too many requests', $metadata: { httpStatusCode: 429 } });
      const denied = new AccessDeniedException({ message: 'no access', $metadata: { httpStatusCode: 403 } });
      expect(classifyInvokeFailure(validation, MODEL).reason).to.equal('CONTENT_FILTERED');
      expect(classifyInvokeFailure(throttled, MODEL).reason).to.equal('THROTTLED');
      expect(classifyInvokeFailure(denied, MODEL).message).to.equal('amazon.titan-image-generator-v2:0: AccessDeniedException: no access');
    });
  });
});
