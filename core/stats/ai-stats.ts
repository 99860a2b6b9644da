/** AI figures per day and per one dimension (model, key, conversation, policy outcome) from `ai_usage_days`. */
import type { EntityManager } from '../db/orm.ts';
import {
  type Figures,
  figuresOf,
  keyOf,
  type StatsScope,
  sumAggregates,
  totalsOf,
  windowKeyOf,
} from './figures.ts';

/** The dimensions `/aistats/daily` groups by, with the column and the answer's field name of each. */
export const aiDimensions = {
  model: { column: 'model', field: 'model' },
  key: { column: 'key_id', field: 'keyId' },
  conversation: { column: 'conversation_id', field: 'conversationId' },
  policy: { column: 'policy_outcome', field: 'policyOutcome' },
} as const;

export type AiDimension = keyof typeof aiDimensions;

export interface AiDailyFigures extends Figures {
  date: string;
  tokensIn: number;
  tokensOut: number;
  avgTimeToFirstTokenMs: number | null;
}

const tokenMeasures = `sum(tokens_in) as tokens_in, sum(tokens_out) as tokens_out,
  sum(time_to_first_token_sum_ms) as ttft_sum_ms, sum(time_to_first_token_count) as ttft_count`;

/** One entry per day and value of the dimension that had requests, by day then value. */
export async function aiDailyFigures(
  em: EntityManager,
  scope: StatsScope,
  dimension: AiDimension,
): Promise<(AiDailyFigures & Record<string, unknown>)[]> {
  const { column, field } = aiDimensions[dimension];
  const rows = await sumAggregates(em, 'ai_usage_days', scope, ['window_start', column], tokenMeasures);
  const byDayThenValue = (a: Record<string, unknown>, b: Record<string, unknown>) =>
    keyOf(a.window_start).localeCompare(keyOf(b.window_start)) ||
    keyOf(a[column]).localeCompare(keyOf(b[column]));
  return rows.sort(byDayThenValue).map((row) => {
    const firstTokens = Number(row.ttft_count ?? 0);
    return {
      date: windowKeyOf(row.window_start).slice(0, 10),
      [field]: (row[column] as string | null) ?? null,
      ...figuresOf(totalsOf(row)),
      tokensIn: Number(row.tokens_in ?? 0),
      tokensOut: Number(row.tokens_out ?? 0),
      avgTimeToFirstTokenMs: firstTokens
        ? Math.round((Number(row.ttft_sum_ms) / firstTokens) * 10) / 10
        : null,
    };
  });
}
