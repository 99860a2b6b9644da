/** What the AI adapter tests share: a tool to declare, and ways to read streams and failures. */
import { expect } from 'vitest';
import type { ChatCompletionChunk } from '../../providers/ai/chat.ts';
import { AiProviderError } from '../../providers/ai/provider.ts';

export const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

export async function collectChunks(
  stream: AsyncIterable<ChatCompletionChunk>,
): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

/** The AiProviderError a call fails with (fails the test if it succeeds or throws something else). */
export async function failureOf(call: Promise<unknown>): Promise<AiProviderError> {
  const error = await call.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(AiProviderError);
  return error as AiProviderError;
}
