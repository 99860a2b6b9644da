/** Schema pieces shared by several routes. */
import { z } from 'zod';

export const uuid = z.uuid({ error: 'must be a UUID' });

export const idParam = <K extends string>(name: K) => z.object({ [name]: uuid } as { [P in K]: typeof uuid });

export const displayName = z.string().trim().min(1).max(100);

export const description = z.string().trim().max(1000);

export const email = z
  .email()
  .max(320)
  .transform((value) => value.toLowerCase());

export const password = z.string().min(10, 'must be at least 10 characters').max(1024);

export const isoDate = z.iso.datetime({ offset: true });

/** Resources live in a workspace; without one, the organization's default workspace is used. */
export const workspaceSelector = z.object({ workspaceId: uuid.optional() });

export const iso = (date: Date | null | undefined) => (date ? date.toISOString() : null);

const positiveCount = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/** The AI gateway's limits on a key or a repository (AI-6); null removes them. */
export const aiLimits = z
  .object({
    requestsPerMinute: positiveCount.optional(),
    tokensPerMinute: positiveCount.optional(),
    tokenBudget: positiveCount.optional(),
    budgetPeriod: z.enum(['DAY', 'MONTH', 'TOTAL']).optional(),
  })
  .strict()
  .nullable();

/** Only the scheme here: the outbound guard checks the address each time something is posted to it. */
export const webhookUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .max(2048)
  .nullable();
