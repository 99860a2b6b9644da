/** `POST /v1/embeddings`, routed and retried like chat. */
import { z } from 'zod';
import { adapterFor } from '../../providers/ai/index.ts';
import { sendJson } from './chat-completions.ts';
import { invalidRequest, modelNotFound } from './errors.ts';
import { AllCandidatesFailed, type Attempt, withFallback } from './fallback.ts';
import type { GatewayCall } from './gateway-call.ts';
import type { Candidate } from './repository-models.ts';

const embeddingsSchema = z
  .object({
    model: z.string().min(1),
    input: z.union([z.string(), z.array(z.string()).min(1).max(2048)]),
    dimensions: z.number().int().positive().optional(),
    encoding_format: z.enum(['float', 'base64']).optional(),
    user: z.string().optional(),
  })
  .strict();

export interface EmbeddingsOutcome {
  model?: string;
  candidate?: Candidate;
  attempts: Attempt[];
  promptTokens?: number;
}

export async function answerEmbeddings(call: GatewayCall, json: unknown, outcome: EmbeddingsOutcome) {
  const parsed = embeddingsSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalidRequest(`Invalid embeddings request: ${issue?.path.join('.') || 'body'}: ${issue?.message}`);
  }
  const body = parsed.data;
  outcome.model = body.model;
  const candidates = await call.models.candidates(call.principal.repositoryId, body.model);
  if (candidates.length === 0) throw modelNotFound(body.model);
  try {
    const run = await withFallback(
      candidates,
      (candidate) =>
        adapterFor(candidate.config.type).embeddings(
          candidate.config.connection,
          { ...body, model: candidate.providerModel },
          call.providerOptions,
        ),
      call.fallbackOptions,
    );
    outcome.attempts = run.attempts;
    outcome.candidate = run.candidate;
    outcome.promptTokens = run.result.usage.prompt_tokens;
    sendJson(call.res, 200, { ...run.result, model: body.model });
  } catch (error) {
    if (error instanceof AllCandidatesFailed) outcome.attempts = error.attempts;
    throw error;
  }
}
