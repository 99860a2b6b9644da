import { describe, expect, it } from 'vitest';
import {
  agentReviewRequest,
  applyAgentAnswer,
  checkAgentAnswer,
} from '../../core/rebalancing/agent-review.ts';
import type { RebalanceMove } from '../../core/rebalancing/plan.ts';

function move(id: string): RebalanceMove {
  return {
    id,
    sourceBucketId: 'source',
    sourceBucketName: 'source',
    destinationBucketId: 'destination',
    destinationBucketName: 'destination',
    prefix: `${id}/`,
    reasons: ['NEAR_CAP'],
    explanation: `move ${id}`,
    figures: {
      bytes: 1,
      objects: 1,
      source: {
        capUsePercent: { storage: 90, egress: null, requests: null },
        capUsePercentAfter: { storage: 60, egress: null, requests: null },
        p95LatencyMs: null,
        errorRate: null,
        pricePerGbMonth: 0.02,
        egressPerGb: 0.09,
      },
      destination: {
        storageCapUsePercentAfter: null,
        p95LatencyMs: null,
        errorRate: null,
        pricePerGbMonth: 0.02,
      },
      estimatedMonthlySaving: 0,
      oneTimeEgressCost: 0,
    },
  };
}

const moves = [move('move-1'), move('move-2'), move('move-3')];

describe('AI review of a rebalancing plan', () => {
  it('applies a valid reorder and veto, keeping unmentioned moves after the ordered ones', () => {
    const checked = checkAgentAnswer(
      JSON.stringify({ order: ['move-3'], vetoes: [{ id: 'move-1', reason: 'hot data' }], comment: 'ok' }),
      moves,
    );
    if (!('answer' in checked)) throw new Error(checked.ignoredReason);
    expect(applyAgentAnswer(moves, checked.answer).map((kept) => kept.id)).toEqual(['move-3', 'move-2']);
  });

  it.each([
    ['text that is not JSON', 'Sure! Move them all.', 'not JSON'],
    ['a missing field', JSON.stringify({ order: [] }), 'breaks the schema'],
    [
      'an extra field (a new move)',
      JSON.stringify({ order: [], vetoes: [], add: [{ prefix: 'x/' }] }),
      'breaks the schema',
    ],
    [
      'a veto without a reason',
      JSON.stringify({ order: [], vetoes: [{ id: 'move-1' }] }),
      'breaks the schema',
    ],
    ['an unknown move id', JSON.stringify({ order: ['move-9'], vetoes: [] }), 'unknown moves: move-9'],
    [
      'a move ordered and vetoed',
      JSON.stringify({ order: ['move-1'], vetoes: [{ id: 'move-1', reason: 'r' }] }),
      'twice',
    ],
    ['no answer at all', null, 'not JSON'],
  ])('ignores %s', (_label, text, reason) => {
    const checked = checkAgentAnswer(text, moves);
    expect('ignoredReason' in checked && checked.ignoredReason).toContain(reason);
  });

  it('asks under a strict JSON schema, with the moves and their figures', () => {
    const request = agentReviewRequest('gpt-4o', moves);
    expect(request.model).toBe('gpt-4o');
    expect(request.response_format).toMatchObject({
      type: 'json_schema',
      json_schema: { strict: true, schema: { additionalProperties: false, required: ['order', 'vetoes'] } },
    });
    const sent = JSON.parse(String(request.messages[1]?.content));
    expect(sent.moves.map((proposal: { id: string }) => proposal.id)).toEqual(['move-1', 'move-2', 'move-3']);
    expect(sent.moves[0].figures.source.capUsePercent.storage).toBe(90);
  });
});
