/**
 * What a conversation sends as context with a new prompt (CP-9): its system
 * prompt, then as many of its newest turns as fit in the conversation's
 * token allowance, then the prompt. Tokens are estimated as one per four
 * characters (rounded up) plus four per message for the chat format's
 * framing, a rule that errs on the generous side for English text; turns are
 * dropped whole, oldest first, never cut, and the kept history starts with a
 * user turn (some providers refuse anything else); the system prompt and the
 * new prompt are always sent.
 */
import type { ChatMessage } from '../../providers/ai/chat.ts';

export interface StoredTurn {
  role: 'user' | 'assistant';
  content: string;
}

const MESSAGE_FRAMING_TOKENS = 4;

export const estimateTokens = (text: string) => Math.ceil(text.length / 4) + MESSAGE_FRAMING_TOKENS;

export function conversationContext(
  systemPrompt: string | null | undefined,
  history: StoredTurn[],
  prompt: string,
  contextTokens: number,
): ChatMessage[] {
  let budget = contextTokens - estimateTokens(prompt) - (systemPrompt ? estimateTokens(systemPrompt) : 0);
  const kept: StoredTurn[] = [];
  for (let index = history.length - 1; index >= 0; index--) {
    const turn = history[index]!;
    budget -= estimateTokens(turn.content);
    if (budget < 0) break;
    kept.unshift(turn);
  }
  while (kept[0]?.role === 'assistant') kept.shift();
  const system: ChatMessage[] = systemPrompt ? [{ role: 'system', content: systemPrompt }] : [];
  return [...system, ...kept, { role: 'user', content: prompt }];
}
