/**
 * Wire-compatible fake AI providers for tests: one node:http server per
 * provider, on 127.0.0.1 and a free port. `startFakeProvider(type)` starts the
 * fake that speaks `type`'s API and returns a handle that knows the base URL
 * and valid credentials, scripts failures for the next requests, records what
 * it received, and stops it:
 *
 *   const fake = await startFakeProvider('ANTHROPIC', { maxPageSize: 2 });
 *   await listModels(fake.connection(), { outboundPolicy });          // its models
 *   fake.script({ kind: 'error', status: 429, retryAfterSeconds: 7 });  // the next request is throttled
 *   await listModels(fake.connection({ apiSecret: 'wrong' }), …);     // the provider's 401
 *   await fake.close();
 */
import type { AiProviderConnection, AiProviderType } from '../../providers/ai/provider.ts';
import { fakeAnthropicSecret, startFakeAnthropic } from './anthropic.ts';
import { fakeAwsCredentials, startFakeBedrock } from './bedrock.ts';
import type { FakeModel, FakeServer } from './fake-http.ts';
import { fakeGeminiSecret, startFakeGemini } from './gemini.ts';
import { fakeOpenAiSecret, startFakeOpenAi } from './openai.ts';

export { type FakeAnthropic, type FakeAnthropicOptions, startFakeAnthropic } from './anthropic.ts';
export { type FakeBedrock, type FakeBedrockOptions, startFakeBedrock } from './bedrock.ts';
export type { FakeModel, FakeResponse, FakeServer, FakeStep, RecordedRequest } from './fake-http.ts';
export { type FakeGemini, type FakeGeminiOptions, startFakeGemini } from './gemini.ts';
export { type FakeOpenAi, type FakeOpenAiOptions, startFakeOpenAi } from './openai.ts';

export interface FakeCredentials {
  apiKey?: string;
  apiSecret: string;
}

export interface FakeProviderOptions {
  /** The credentials it accepts; each provider has a default pair. */
  credentials?: FakeCredentials;
  models?: FakeModel[];
  /** Pages of at most this many models (Anthropic and Gemini; the others list in one page). */
  maxPageSize?: number;
}

export interface FakeProvider extends FakeServer {
  readonly type: AiProviderType;
  /** What an AI LLM config's API endpoint is set to for this fake. */
  readonly baseUrl: string;
  readonly credentials: FakeCredentials;
  /** What the fake lists; assign to change it. */
  models: FakeModel[];
  /** A connection to this fake with its valid credentials, and `overrides` on top. */
  connection(overrides?: Partial<AiProviderConnection>): AiProviderConnection;
}

type FakeWithModels = FakeServer & { readonly baseUrl: string; models: FakeModel[] };

export async function startFakeProvider(
  type: AiProviderType,
  options: FakeProviderOptions = {},
): Promise<FakeProvider> {
  const { fake, credentials } = await startFake(type, options);
  return {
    type,
    origin: fake.origin,
    baseUrl: fake.baseUrl,
    requests: fake.requests,
    credentials,
    get models() {
      return fake.models;
    },
    set models(models: FakeModel[]) {
      fake.models = models;
    },
    script: (...steps) => fake.script(...steps),
    reset: () => fake.reset(),
    close: () => fake.close(),
    connection: (overrides = {}) => ({ type, apiEndpoint: fake.baseUrl, ...credentials, ...overrides }),
  };
}

async function startFake(
  type: AiProviderType,
  options: FakeProviderOptions,
): Promise<{ fake: FakeWithModels; credentials: FakeCredentials }> {
  const { models, maxPageSize } = options;
  const given = options.credentials;
  switch (type) {
    case 'OPENAI':
    case 'OTHER': {
      const fake = await startFakeOpenAi({
        models,
        secrets: given && [given.apiSecret],
        organization: given?.apiKey,
      });
      return { fake, credentials: given ?? { apiSecret: fakeOpenAiSecret } };
    }
    case 'ANTHROPIC': {
      const fake = await startFakeAnthropic({ models, maxPageSize, secrets: given && [given.apiSecret] });
      return { fake, credentials: given ?? { apiSecret: fakeAnthropicSecret } };
    }
    case 'GOOGLE': {
      const fake = await startFakeGemini({ models, maxPageSize, secrets: given && [given.apiSecret] });
      return { fake, credentials: given ?? { apiSecret: fakeGeminiSecret } };
    }
    case 'AWS': {
      const pair = {
        accessKeyId: given?.apiKey ?? fakeAwsCredentials.accessKeyId,
        secretAccessKey: given?.apiSecret ?? fakeAwsCredentials.secretAccessKey,
      };
      const fake = await startFakeBedrock({ models, credentials: [pair] });
      return { fake, credentials: { apiKey: pair.accessKeyId, apiSecret: pair.secretAccessKey } };
    }
  }
}
