/**
 * JOB-6's optional AI review of a plan: the model sees the proposed moves and
 * may only reorder or veto them, answering under a strict JSON schema. Its
 * answer is checked here; anything else (unparsable text, extra fields, an
 * unknown or repeated move id) is ignored with the reason, and the
 * deterministic plan stands. The agent can never add a move.
 */
import { z } from 'zod';
import type { ChatMessage, ChatRequest } from '../../providers/ai/chat.ts';
import type { RebalanceMove } from './plan.ts';

const moveId = z.string().min(1).max(40);

export const agentAnswerSchema = z
  .object({
    /** Move ids in the order they should run; moves left out keep their place after these. */
    order: z.array(moveId).max(1000),
    vetoes: z.array(z.object({ id: moveId, reason: z.string().min(1).max(500) }).strict()).max(1000),
    comment: z.string().max(2000).optional(),
  })
  .strict();

export type AgentAnswer = z.infer<typeof agentAnswerSchema>;

export interface AgentVeto {
  id: string;
  reason: string;
}

/** What became of the agent's review, kept in the plan's state. */
export interface AgentReview {
  aiConfigId: string;
  model: string;
  applied: boolean;
  /** Why the answer was ignored. */
  ignoredReason?: string;
  vetoes: AgentVeto[];
  /** The move ids in their final order (vetoed ones left out). */
  order: string[];
  comment?: string;
}

const SYSTEM_PROMPT = [
  'You review a storage rebalancing plan. Each move takes a prefix from one bucket to another, with the figures that justify it.',
  'You may reorder the moves (most urgent first) and veto moves you judge harmful, giving a reason for each veto.',
  'You cannot add or change moves. Answer with one JSON object and nothing else:',
  '{"order": [move ids in the order to run], "vetoes": [{"id": move id, "reason": text}], "comment": optional text}.',
].join(' ');

/** The chat request that asks `model` for its review of `moves`. */
export function agentReviewRequest(model: string, moves: readonly RebalanceMove[]): ChatRequest {
  const proposals = moves.map(
    ({ id, sourceBucketName, destinationBucketName, prefix, reasons, figures }) => ({
      id,
      from: sourceBucketName,
      to: destinationBucketName,
      prefix,
      reasons,
      figures,
    }),
  );
  const messages: ChatMessage[] = [
    { role: 'system', content: SYSTEM_PROMPT },
    { role: 'user', content: JSON.stringify({ moves: proposals }) },
  ];
  return {
    model,
    messages,
    temperature: 0,
    response_format: {
      type: 'json_schema',
      json_schema: { name: 'rebalance_review', strict: true, schema: z.toJSONSchema(agentAnswerSchema) },
    },
  };
}

/** The agent's answer if it is valid for these moves, or why it is not. */
export function checkAgentAnswer(
  text: string | null | undefined,
  moves: readonly RebalanceMove[],
): { answer: AgentAnswer } | { ignoredReason: string } {
  let json: unknown;
  try {
    json = JSON.parse(text ?? '');
  } catch {
    return { ignoredReason: 'the answer is not JSON' };
  }
  const parsed = agentAnswerSchema.safeParse(json);
  if (!parsed.success)
    return { ignoredReason: `the answer breaks the schema: ${z.prettifyError(parsed.error).slice(0, 500)}` };
  const known = new Set(moves.map((move) => move.id));
  const named = [...parsed.data.order, ...parsed.data.vetoes.map((veto) => veto.id)];
  const unknown = named.filter((id) => !known.has(id));
  if (unknown.length) return { ignoredReason: `the answer names unknown moves: ${unknown.join(', ')}` };
  if (new Set(named).size !== named.length)
    return { ignoredReason: 'the answer names a move twice (in the order, the vetoes, or both)' };
  return { answer: parsed.data };
}

/** The moves in the agent's order, without the vetoed ones. */
export function applyAgentAnswer(moves: readonly RebalanceMove[], answer: AgentAnswer): RebalanceMove[] {
  const vetoed = new Set(answer.vetoes.map((veto) => veto.id));
  const byId = new Map(moves.map((move) => [move.id, move]));
  const ordered = answer.order.map((id) => byId.get(id)).filter((move) => move !== undefined);
  const rest = moves.filter((move) => !answer.order.includes(move.id));
  return [...ordered, ...rest].filter((move) => !vetoed.has(move.id));
}
