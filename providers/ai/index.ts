/**
 * The AI provider layer's entry point: one adapter per provider type, chosen
 * here and nowhere else. OPENAI and OTHER share the OpenAI-compatible adapter.
 */
import { anthropicAdapter } from './anthropic.ts';
import { geminiAdapter } from './gemini.ts';
import { openAiAdapter } from './openai.ts';
import {
  type AiProviderAdapter,
  type AiProviderConnection,
  AiProviderError,
  type AiProviderType,
  aiProviderTypes,
  type ModelInfo,
  type ProviderCallOptions,
} from './provider.ts';

export {
  type AiProviderAdapter,
  type AiProviderConnection,
  AiProviderError,
  type AiProviderErrorCode,
  type AiProviderErrorDetails,
  type AiProviderType,
  aiProviderErrorCodes,
  aiProviderTypes,
  defaultProviderTimeoutMs,
  type ModelInfo,
  type ProviderCallOptions,
} from './provider.ts';

const adapters: Readonly<Record<AiProviderType, AiProviderAdapter>> = {
  OPENAI: openAiAdapter,
  OTHER: openAiAdapter,
  ANTHROPIC: anthropicAdapter,
  GOOGLE: geminiAdapter,
  AWS: loadedOnFirstCall(async () => (await import('./bedrock.ts')).bedrockAdapter),
};

/**
 * An adapter whose module loads on its first call. Bedrock's two AWS SDK clients cost a
 * process about 3 MB of heap, and most deployments never call Bedrock.
 */
function loadedOnFirstCall(load: () => Promise<AiProviderAdapter>): AiProviderAdapter {
  let loaded: Promise<AiProviderAdapter> | undefined;
  const adapter = () => (loaded ??= load());
  return {
    listModels: async (...args) => (await adapter()).listModels(...args),
    chat: async (...args) => (await adapter()).chat(...args),
    chatStream: async (...args) => (await adapter()).chatStream(...args),
    embeddings: async (...args) => (await adapter()).embeddings(...args),
  };
}

export function adapterFor(type: AiProviderType): AiProviderAdapter {
  // The type may come from stored data written by an older or newer version.
  if (!(aiProviderTypes as readonly string[]).includes(type)) {
    throw new AiProviderError('Invalid', `Unknown AI provider type ${JSON.stringify(type)}`);
  }
  return adapters[type];
}

/**
 * The models the provider offers to these credentials: a real call, so it
 * doubles as the validation of an AI LLM config (CP-6). Throws AiProviderError.
 */
export async function listModels(
  connection: AiProviderConnection,
  options: ProviderCallOptions,
): Promise<ModelInfo[]> {
  const adapter = adapterFor(connection.type);
  if (!connection.apiSecret) throw new AiProviderError('Invalid', 'The API secret is empty');
  return adapter.listModels(connection, options);
}
