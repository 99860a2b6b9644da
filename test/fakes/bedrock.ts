/**
 * A fake Amazon Bedrock control plane, from the public API reference:
 * ListFoundationModels (`GET /foundation-models`, optional `byProvider` /
 * `byOutputModality` filters) signed with SigV4, answering
 * `{ modelSummaries: [...] }`. Errors as AWS JSON services send them: the type
 * in `x-amzn-errortype`, `{ message }` in the body. The signature is checked
 * against the known secret, so a wrong access key id
 * (UnrecognizedClientException) and a wrong secret (InvalidSignatureException)
 * are told apart as AWS does.
 */
import { randomUUID } from 'node:crypto';
import {
  type FakeErrorStep,
  type FakeModel,
  type FakeResponse,
  type FakeServer,
  type RecordedRequest,
  startFakeHttpServer,
} from './fake-http.ts';
import { verifySigV4 } from './sigv4.ts';

export interface FakeAwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface FakeBedrockOptions {
  credentials?: FakeAwsCredentials[];
  models?: FakeModel[];
  /** Goes into model ARNs. */
  region?: string;
}

export interface FakeBedrock extends FakeServer {
  /** The endpoint a client is configured with: the origin. */
  readonly baseUrl: string;
  models: FakeModel[];
}

export const fakeAwsCredentials: FakeAwsCredentials = {
  accessKeyId: 'AKIAFAKEBEDROCK00001',
  secretAccessKey: 'fakeSecretAccessKey0123456789abcdefghijk',
};

export const defaultBedrockModels: FakeModel[] = [
  {
    id: 'anthropic.claude-3-5-sonnet-20240620-v1:0',
    displayName: 'Claude 3.5 Sonnet',
    ownedBy: 'Anthropic',
  },
  { id: 'amazon.titan-text-express-v1', displayName: 'Titan Text G1 - Express', ownedBy: 'Amazon' },
  { id: 'meta.llama3-8b-instruct-v1:0', displayName: 'Llama 3 8B Instruct', ownedBy: 'Meta' },
];

export async function startFakeBedrock(options: FakeBedrockOptions = {}): Promise<FakeBedrock> {
  const credentials = options.credentials ?? [fakeAwsCredentials];
  const region = options.region ?? 'us-east-1';
  const state = { models: options.models ?? defaultBedrockModels };
  const secretFor = (accessKeyId: string) =>
    credentials.find((pair) => pair.accessKeyId === accessKeyId)?.secretAccessKey;

  function answer(request: RecordedRequest): FakeResponse {
    if (request.method !== 'GET' || request.path !== '/foundation-models') {
      return awsError(404, 'UnknownOperationException', undefined);
    }
    const verdict = verifySigV4(request, secretFor);
    if (!verdict.ok) {
      if (verdict.reason === 'missing')
        return awsError(403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
      if (verdict.reason === 'malformed') {
        return awsError(
          403,
          'IncompleteSignatureException',
          'Authorization header requires Credential, SignedHeaders and Signature.',
        );
      }
      if (verdict.reason === 'unknown-key') {
        return awsError(
          403,
          'UnrecognizedClientException',
          'The security token included in the request is invalid.',
        );
      }
      return awsError(
        403,
        'InvalidSignatureException',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
      );
    }
    const byProvider = request.query.get('byProvider')?.toLowerCase();
    const models = state.models.filter((model) => !byProvider || model.ownedBy?.toLowerCase() === byProvider);
    return {
      status: 200,
      headers: requestIdHeader(),
      json: { modelSummaries: models.map((model) => summary(model, region)) },
    };
  }

  const server = await startFakeHttpServer({ answer, errorResponse: scriptedError });
  return {
    ...server,
    baseUrl: server.origin,
    get models() {
      return state.models;
    },
    set models(models: FakeModel[]) {
      state.models = models;
    },
  };
}

function summary(model: FakeModel, region: string) {
  const embedding = model.id.includes('embed');
  return {
    modelArn: `arn:aws:bedrock:${region}::foundation-model/${model.id}`,
    modelId: model.id,
    modelName: model.displayName ?? model.id,
    providerName: model.ownedBy ?? 'Amazon',
    inputModalities: ['TEXT'],
    outputModalities: [embedding ? 'EMBEDDING' : 'TEXT'],
    responseStreamingSupported: !embedding,
    customizationsSupported: [],
    inferenceTypesSupported: ['ON_DEMAND'],
    modelLifecycle: { status: 'ACTIVE' },
  };
}

function scriptedError(step: FakeErrorStep): FakeResponse {
  const { status } = step;
  const [type, message] =
    status === 400
      ? ['ValidationException', 'Invalid request.']
      : status === 403
        ? [
            'AccessDeniedException',
            'User: arn:aws:iam::123456789012:user/fake is not authorized to perform: bedrock:ListFoundationModels because no identity-based policy allows the bedrock:ListFoundationModels action',
          ]
        : status === 404
          ? ['ResourceNotFoundException', 'The requested resource does not exist.']
          : status === 429
            ? ['ThrottlingException', 'Too many requests, please wait before trying again.']
            : status === 503
              ? ['ServiceUnavailableException', 'Service is temporarily unavailable. Please try again later.']
              : ['InternalServerException', 'Internal server error.'];
  const response = awsError(status, type, step.message ?? message);
  if (step.retryAfterSeconds !== undefined) {
    response.headers = { ...response.headers, 'retry-after': String(step.retryAfterSeconds) };
  }
  return response;
}

function requestIdHeader(): Record<string, string> {
  return { 'x-amzn-requestid': randomUUID() };
}

function awsError(status: number, type: string, message: string | undefined): FakeResponse {
  return {
    status,
    headers: {
      ...requestIdHeader(),
      'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
    },
    json: message === undefined ? {} : { message },
  };
}
