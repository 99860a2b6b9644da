/** `--from photos/2024/`: a bucket by its registered name (or id) and a key prefix, resolved to ids through the API. */
import type { ApiClient } from './api-client.ts';
import { CliError, UsageError } from './errors.ts';

export interface BucketPath {
  bucket: string;
  prefix: string;
}

interface BucketSummary {
  id: string;
  name: string;
  workspaceId: string;
}

interface WorkspaceSummary {
  id: string;
  name: string;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Everything up to the first `/` is the bucket; the rest is the prefix, taken as written. */
export function parseBucketPath(flag: string, value: string, helpCommand: string): BucketPath {
  const slash = value.indexOf('/');
  const bucket = slash < 0 ? value : value.slice(0, slash);
  if (!bucket)
    throw new UsageError(`--${flag} must start with a bucket name, as in "photos/2024/"`, helpCommand);
  return { bucket, prefix: slash < 0 ? '' : value.slice(slash + 1) };
}

/** The ids of the named buckets, looked up in `workspace` (an id or a name) or in all the caller's workspaces. */
export async function resolveBucketIds(
  client: ApiClient,
  buckets: string[],
  workspace: string | undefined,
): Promise<string[]> {
  if (!workspace && buckets.every((bucket) => uuidPattern.test(bucket))) return buckets;
  const workspaces = await client.request<WorkspaceSummary[]>('GET', '/workspace');
  const workspaceId = workspace === undefined ? undefined : findWorkspace(workspaces, workspace).id;
  const query = workspaceId ? `?workspaceId=${workspaceId}` : '';
  const known = await client.request<BucketSummary[]>('GET', `/bucket${query}`);
  return buckets.map((bucket) => findBucket(known, workspaces, bucket, workspace));
}

function findWorkspace(workspaces: WorkspaceSummary[], wanted: string): WorkspaceSummary {
  const matches = workspaces.filter((workspace) => workspace.id === wanted || workspace.name === wanted);
  if (matches.length === 1) return matches[0]!;
  const names = workspaces.map((workspace) => workspace.name).join(', ');
  if (matches.length === 0) throw new CliError(`no workspace "${wanted}" (there are: ${names})`);
  throw new CliError(
    `several workspaces are named "${wanted}": give its id (${matches.map((w) => w.id).join(', ')})`,
  );
}

function findBucket(
  known: BucketSummary[],
  workspaces: WorkspaceSummary[],
  wanted: string,
  workspace: string | undefined,
): string {
  const byId = known.find((bucket) => bucket.id === wanted);
  if (byId) return byId.id;
  const matches = known.filter((bucket) => bucket.name === wanted);
  if (matches.length === 1) return matches[0]!.id;
  const where = workspace ? ` in workspace "${workspace}"` : '';
  if (matches.length === 0) {
    const names = known.map((bucket) => bucket.name).join(', ') || 'none';
    throw new CliError(`no bucket named "${wanted}"${where} (registered: ${names})`);
  }
  const workspaceName = (id: string) => workspaces.find((w) => w.id === id)?.name ?? id;
  const holders = matches.map((bucket) => `"${workspaceName(bucket.workspaceId)}"`).join(', ');
  throw new CliError(
    `a bucket named "${wanted}" is in several workspaces (${holders}): choose one with --workspace`,
  );
}
