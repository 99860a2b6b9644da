/**
 * Amazon Bedrock (type AWS) through the AWS SDK: `@aws-sdk/client-bedrock`
 * for the control plane (listing models); `@aws-sdk/client-bedrock-runtime`
 * will carry chat.
 *
 * Connection fields:
 * - `apiEndpoint`: `https://bedrock.<region>.amazonaws.com` (or the
 *   `bedrock-runtime`, `-fips` and `.amazonaws.com.cn` forms of it): the
 *   region is read from the host. A bare region (`eu-west-1`) is accepted. Any
 *   other URL is a custom endpoint (a VPC endpoint, a proxy, a test fake): it
 *   is called as written, signed for the region found in its host name, else
 *   us-east-1. There is no default: the region must be chosen.
 * - `apiKey`: the AWS access key id (required).
 * - `apiSecret`: the AWS secret access key. Requests are signed with SigV4.
 *   Only long-lived keys: there is no field for a session token, and the SDK's
 *   default credential chain (environment, instance metadata) is never used.
 *
 * Models: ListFoundationModels (`GET /foundation-models`) →
 * `{ modelSummaries: [{ modelId, modelName, providerName, … }] }`, one call.
 * Errors: the type in `x-amzn-errortype` (UnrecognizedClientException,
 * InvalidSignatureException, AccessDeniedException, ThrottlingException, …),
 * `{ message }` in the body; the SDK turns them into exceptions named so.
 */
import { BedrockClient, ListFoundationModelsCommand } from '@aws-sdk/client-bedrock';
import { assertUrlAllowed, createGuardedAgents } from '../../core/net/outbound-guard.ts';
import {
  type ApiDescription,
  connectionFailure,
  type HttpFailure,
  parseRetryAfter,
  providerHttpError,
  statusLabel,
  unexpectedAnswer,
} from './errors.ts';
import { endpointUrl, timeoutOf } from './http.ts';
import {
  type AiProviderAdapter,
  type AiProviderConnection,
  AiProviderError,
  type AiProviderErrorCode,
  type ModelInfo,
  type ProviderCallOptions,
} from './provider.ts';

const defaultRegion = 'us-east-1';
/** us-east-1, eu-central-2, us-gov-west-1, cn-north-1, ap-southeast-5, … */
const regionPattern = /(?:^|[.-])((?:[a-z]{2}|us-gov|us-iso[a-z]?|eu-isoe)-[a-z]+-\d{1,2})(?=$|[.-])/;
const awsHostPattern = /^bedrock(?:-runtime)?(-fips)?\.([a-z0-9-]+)\.(amazonaws\.com(?:\.cn)?)$/;

const modelsApi: ApiDescription = {
  api: 'the Bedrock ListFoundationModels API',
  baseUrlHint: 'https://bedrock.<region>.amazonaws.com, e.g. https://bedrock.us-east-1.amazonaws.com',
  credential: 'the AWS credentials (API key = access key id, API secret = secret access key)',
};

export interface BedrockEndpoint {
  region: string;
  /** Where control-plane calls (ListFoundationModels) go. */
  controlPlane: URL;
}

export function bedrockEndpoint(connection: AiProviderConnection): BedrockEndpoint {
  const written = connection.apiEndpoint.trim();
  if (!written) {
    throw new AiProviderError(
      'Invalid',
      `The API endpoint is required for AWS Bedrock: ${modelsApi.baseUrlHint} (it sets the region)`,
    );
  }
  if (/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(written)) {
    return { region: written, controlPlane: new URL(`https://bedrock.${written}.amazonaws.com`) };
  }
  let url: URL;
  try {
    url = new URL(written);
  } catch {
    throw new AiProviderError(
      'Invalid',
      `The API endpoint is not a valid URL (expected ${modelsApi.baseUrlHint})`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AiProviderError(
      'Invalid',
      `The API endpoint must start with https:// or http://, not ${url.protocol}//`,
    );
  }
  const aws = url.hostname.match(awsHostPattern);
  if (aws) {
    const [, fips = '', region = defaultRegion, domain] = aws;
    return { region, controlPlane: new URL(`https://bedrock${fips}.${region}.${domain}`) };
  }
  url.hash = '';
  url.search = '';
  return { region: url.hostname.match(regionPattern)?.[1] ?? defaultRegion, controlPlane: url };
}

function credentialsOf(connection: AiProviderConnection) {
  const accessKeyId = connection.apiKey?.trim();
  if (!accessKeyId) {
    throw new AiProviderError(
      'Invalid',
      'The API key (the AWS access key id) is required for AWS Bedrock; the API secret holds the secret access key',
    );
  }
  return { accessKeyId, secretAccessKey: connection.apiSecret };
}

async function listModels(
  connection: AiProviderConnection,
  options: ProviderCallOptions,
): Promise<ModelInfo[]> {
  const { region, controlPlane } = bedrockEndpoint(connection);
  const credentials = credentialsOf(connection);
  const timeoutMs = timeoutOf(options);
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    // A clear refusal before any connection; the agents check again at connection time (DNS rebinding).
    await assertUrlAllowed(controlPlane, options.outboundPolicy);
  } catch (error) {
    throw connectionFailure(error, controlPlane, timeoutMs);
  }
  const agents = createGuardedAgents(options.outboundPolicy, { keepAlive: false });
  const client = new BedrockClient({
    region,
    endpoint: controlPlane.href,
    credentials,
    // One attempt: validation reports what happened; the caller (a workflow) owns retries.
    maxAttempts: 1,
    // An options object: the SDK builds its NodeHttpHandler from it (as providers/storage/s3.ts does).
    requestHandler: { httpAgent: agents.httpAgent, httpsAgent: agents.httpsAgent },
  });
  try {
    const output = await client.send(new ListFoundationModelsCommand({}), { abortSignal: signal });
    if (!Array.isArray(output.modelSummaries)) {
      throw unexpectedAnswer(
        output.$metadata.httpStatusCode ?? 200,
        endpointUrl(controlPlane, 'foundation-models'),
        modelsApi,
      );
    }
    return output.modelSummaries.flatMap((summary) =>
      summary.modelId
        ? [{ id: summary.modelId, displayName: summary.modelName, ownedBy: summary.providerName }]
        : [],
    );
  } catch (error) {
    // Messages name the operation's URL, as the HTTP adapters do.
    const operationUrl = endpointUrl(controlPlane, 'foundation-models');
    throw bedrockError(error, operationUrl, signal.aborted ? signal.reason : undefined, timeoutMs);
  } finally {
    client.destroy();
    agents.httpAgent.destroy();
    agents.httpsAgent.destroy();
  }
}

/** AWS error types → codes; the names the SDK gives its exceptions. */
const codeByErrorType: Readonly<Record<string, AiProviderErrorCode>> = {
  UnrecognizedClientException: 'InvalidCredentials',
  InvalidSignatureException: 'InvalidCredentials',
  IncompleteSignatureException: 'InvalidCredentials',
  InvalidClientTokenId: 'InvalidCredentials',
  ExpiredTokenException: 'InvalidCredentials',
  AccessDeniedException: 'PermissionDenied',
  ThrottlingException: 'Throttled',
  TooManyRequestsException: 'Throttled',
  InternalServerException: 'Transient',
  ServiceUnavailableException: 'Transient',
  ValidationException: 'Invalid',
  ResourceNotFoundException: 'NotFound',
  UnknownOperationException: 'NotFound',
  // What AWS front ends answer for a path that is no operation of theirs.
  MissingAuthenticationTokenException: 'NotFound',
};

/** The SDK's view of an HTTP answer it could not turn into a result. */
interface SdkFailure {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string | undefined> };
}

function bedrockError(error: unknown, url: URL, timeout: unknown, timeoutMs: number): AiProviderError {
  if (error instanceof AiProviderError) return error;
  if (timeout !== undefined) return connectionFailure(timeout, url, timeoutMs);
  const failure = (typeof error === 'object' && error !== null ? error : {}) as SdkFailure;
  const status = failure.$metadata?.httpStatusCode;
  if (status === undefined) return connectionFailure(error, url, timeoutMs);
  // A 2xx the SDK could not parse: not Bedrock's API at this address.
  if (status >= 200 && status < 300) return unexpectedAnswer(status, url, modelsApi);
  // The SDK names an error without a type `Unknown` (or `UnknownError`).
  const errorType =
    failure.name && failure.name !== 'Unknown' && failure.name !== 'UnknownError' ? failure.name : undefined;
  const providerMessage = failure.message && failure.message !== 'UnknownError' ? failure.message : undefined;
  const details: HttpFailure = {
    status,
    url,
    vendorCode: errorType,
    providerMessage,
    code: errorType ? codeByErrorType[errorType] : undefined,
    retryAfterSeconds: parseRetryAfter(failure.$response?.headers?.['retry-after']),
    cause: error,
  };
  return providerHttpError({ ...details, message: credentialMessage(details) }, modelsApi);
}

/** Which half of the key pair AWS rejected, when its error type tells. */
function credentialMessage(failure: HttpFailure): string | undefined {
  if (failure.vendorCode === 'UnrecognizedClientException' || failure.vendorCode === 'InvalidClientTokenId') {
    return `The provider does not know the AWS access key id given as API key ${statusLabel(failure)}`;
  }
  if (failure.vendorCode === 'InvalidSignatureException') {
    return `The provider rejected the request signature: the API secret is not the secret access key of that access key id ${statusLabel(failure)}`;
  }
  return undefined;
}

export const bedrockAdapter: AiProviderAdapter = { listModels };
