/**
 * Jobs listed from Temporal's visibility store through their search
 * attributes (every job carries its organization, kind, workspace, buckets
 * and status): no table of our own to keep in step with Temporal.
 */
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { type JobKind, type JobMemo, searchAttributes } from '../../workflows/definitions.ts';
import { uuid } from '../schemas.ts';

export const jobStatuses = ['RUNNING', 'PAUSED', 'COMPLETED', 'FAILED', 'CANCELLED'] as const;

export const jobListQuery = z
  .object({
    status: z.enum(jobStatuses).optional(),
    workspaceId: uuid.optional(),
    bucketId: uuid.optional().describe('jobs that read or write this bucket'),
    limit: z.coerce.number().int().min(1).max(200).default(50),
  })
  .strict();

export type JobListFilters = z.infer<typeof jobListQuery>;

export interface ListedJob {
  id: string;
  kind: string;
  status: string;
  workspaceId: string | null;
  bucketIds: string[];
  startedBy: string | null;
  startedAt: string;
  closedAt: string | null;
}

/** The organization's jobs of one kind, newest first; a continued job appears once, as its latest run. */
export async function listJobs(
  temporal: Client,
  organizationId: string,
  kind: JobKind,
  filters: JobListFilters,
): Promise<ListedJob[]> {
  // Every value is a UUID or from a fixed list (validated above), so none can break out of its quotes.
  const conditions = [
    `${searchAttributes.organization.name} = '${organizationId}'`,
    `${searchAttributes.kind.name} = '${kind}'`,
    `ExecutionStatus != 'ContinuedAsNew'`,
  ];
  if (filters.status) conditions.push(`${searchAttributes.status.name} = '${filters.status}'`);
  if (filters.workspaceId) conditions.push(`${searchAttributes.workspace.name} = '${filters.workspaceId}'`);
  if (filters.bucketId) conditions.push(`${searchAttributes.buckets.name} = '${filters.bucketId}'`);
  const jobs: ListedJob[] = [];
  const listing = temporal.workflow.list({ query: conditions.join(' AND '), pageSize: filters.limit });
  for await (const execution of listing) {
    const attributes = execution.typedSearchAttributes;
    jobs.push({
      id: execution.workflowId,
      kind,
      status: attributes.get(searchAttributes.status) ?? execution.status.name,
      workspaceId: attributes.get(searchAttributes.workspace) ?? null,
      bucketIds: attributes.get(searchAttributes.buckets) ?? [],
      startedBy: (execution.memo as Partial<JobMemo> | undefined)?.startedBy ?? null,
      startedAt: execution.startTime.toISOString(),
      closedAt: execution.closeTime?.toISOString() ?? null,
    });
    if (jobs.length >= filters.limit) break;
  }
  return jobs;
}
