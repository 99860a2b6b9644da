/** One authenticated request to the AI gateway, and what its handlers need. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AiPrincipal } from '../../core/keys/ai-key-resolver.ts';
import type { ChatCallOptions } from '../../providers/ai/provider.ts';
import type { ChatGuard } from './chat-guard.ts';
import type { ConfigHealth, FallbackPolicy } from './fallback.ts';
import type { RepositoryModels } from './repository-models.ts';

export interface GatewayCall {
  req: IncomingMessage;
  res: ServerResponse;
  principal: AiPrincipal;
  models: RepositoryModels;
  /** Aborted when the app goes away before the answer is complete. */
  signal: AbortSignal;
  providerOptions: ChatCallOptions;
  fallbackOptions: { health: ConfigHealth; policy?: FallbackPolicy; signal: AbortSignal };
  /** The AI policies that apply to the key's organization, workspace and repository. */
  guard: ChatGuard;
}
