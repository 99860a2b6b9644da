/**
 * What the AI policies (AI-4) get to see and decide in a chat request. The
 * chat handler calls these hooks; the policy engine (policies.ts) implements
 * them for the request's key.
 */
import type { ChatMessage } from '../../providers/ai/chat.ts';
import type { GatewayError } from './errors.ts';

/** What the policies did to the request, for metering: the strongest outcome wins. */
export type PolicyOutcome = 'pass' | 'logged' | 'alerted' | 'redacted' | 'blocked';

/** Checks one streamed answer as its text arrives. */
export interface StreamCheck {
  /** The next piece of the answer's text; an error when a BLOCK policy matched (the stream must end with it). */
  push(text: string): Promise<GatewayError | undefined>;
  /** The answer is complete. */
  end(): Promise<GatewayError | undefined>;
  /** How much of the text pushed so far may be sent: a BLOCK policy may hold the rest back until it is cleared. */
  releasedChars(): number;
}

export interface ChatGuard {
  /** Before the request leaves: throws a `policy_violation` error to block, or returns the messages to send (redacted). */
  checkPrompt(messages: ChatMessage[]): Promise<ChatMessage[]>;
  /** A whole answer's text, before it is returned: throws to block. */
  checkResponse(text: string): Promise<void>;
  streamCheck(): StreamCheck;
  readonly outcome: PolicyOutcome;
}

/** The guard of a request that no policy applies to. */
export const noPolicies: ChatGuard = {
  checkPrompt: async (messages) => messages,
  checkResponse: async () => {},
  streamCheck: () => ({
    push: async () => undefined,
    end: async () => undefined,
    releasedChars: () => Number.POSITIVE_INFINITY,
  }),
  outcome: 'pass',
};
