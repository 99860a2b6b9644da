/** CP-3: buckets registered with encrypted credentials; creation and credential changes start JOB-1. */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import {
  bucketCredentialsInput,
  credentialsHint,
  sealBucketCredentials,
  toProviderCredentials,
} from '../../core/buckets/credentials.ts';
import { Bucket, bucketProviders, Repository } from '../../core/db/entities/index.ts';
import { AppError } from '../../core/errors.ts';
import type { OutboundPolicy } from '../../core/net/outbound-guard.ts';
import { assertUrlAllowed } from '../../core/net/outbound-guard.ts';
import type { MasterKeyring } from '../../core/secrets/keyring.ts';
import { bucketValidationStateQuery } from '../../workflows/definitions.ts';
import { type AnyRoute, protectedRoute } from '../routing/route.ts';
import { idParam, iso, uuid, workspaceSelector } from '../schemas.ts';
import { assertNameFree } from '../unique-names.ts';
import { jobStartOptions } from './jobs.ts';

/** S3's bucket naming rules: the name is what S3 clients address through the bridge. */
export const bridgeBucketName = z
  .string()
  .min(3)
  .max(63)
  .regex(
    /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/,
    'use 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit',
  )
  .refine(
    (name) => !/\.\.|^\d+\.\d+\.\d+\.\d+$/.test(name),
    'must not look like an IP address or contain ".."',
  );

const optionalCap = z.number().int().positive().nullable().optional();
const caps = {
  storageCapBytes: optionalCap,
  egressCapBytesPerDay: optionalCap,
  requestsPerMinuteCap: optionalCap,
};

const endpoint = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2048);

const createBody = workspaceSelector
  .extend({
    name: bridgeBucketName,
    provider: z.enum(bucketProviders),
    bucketName: z.string().min(1).max(255),
    region: z.string().min(1).max(64).optional(),
    endpoint: endpoint.optional(),
    forcePathStyle: z.boolean().default(false),
    credentials: bucketCredentialsInput,
    ...caps,
  })
  .strict();

const updateBody = z
  .object({
    name: bridgeBucketName.optional(),
    region: z.string().min(1).max(64).nullable().optional(),
    endpoint: endpoint.nullable().optional(),
    forcePathStyle: z.boolean().optional(),
    credentials: bucketCredentialsInput.optional(),
    ...caps,
  })
  .strict();

/** What the API shows of a bucket: never its credentials, only a non-secret hint. */
export function presentBucket(bucket: Bucket) {
  return {
    id: bucket.id,
    workspaceId: bucket.workspace.id,
    name: bucket.name,
    provider: bucket.provider,
    bucketName: bucket.bucketName,
    region: bucket.region ?? null,
    endpoint: bucket.endpoint ?? null,
    forcePathStyle: bucket.forcePathStyle,
    credentials: { type: bucket.credentialsKind, hint: bucket.credentialsHint ?? null },
    storageCapBytes: bucket.storageCapBytes ?? null,
    egressCapBytesPerDay: bucket.egressCapBytesPerDay ?? null,
    requestsPerMinuteCap: bucket.requestsPerMinuteCap ?? null,
    status: bucket.status,
    statusReason: bucket.statusReason ?? null,
    lastValidatedAt: iso(bucket.lastValidatedAt),
    validationLatencyMs: bucket.validationLatencyMs ?? null,
    validationJobId: bucket.validationJobId ?? null,
    createdAt: iso(bucket.createdAt),
    updatedAt: iso(bucket.updatedAt),
  };
}

export interface BucketRouteDependencies {
  temporal: Client;
  taskQueue: string;
  keyring: MasterKeyring;
  outboundPolicy: OutboundPolicy;
}

export function bucketRoutes(deps: BucketRouteDependencies): AnyRoute[] {
  /** Marks the bucket as being validated; the workflow itself starts once the change is committed. */
  const scheduleValidation = (
    bucket: Bucket,
    startedBy: string,
    afterCommit: (task: () => Promise<void>) => void,
  ) => {
    const jobId = `bucket-validation-${randomUUID()}`;
    bucket.status = 'VALIDATING';
    bucket.validationJobId = jobId;
    afterCommit(async () => {
      await deps.temporal.workflow.start('validateBucketWorkflow', {
        workflowId: jobId,
        taskQueue: deps.taskQueue,
        args: [{ bucketId: bucket.id }],
        ...jobStartOptions({
          kind: 'bucket-validation',
          organizationId: bucket.workspace.organization.id,
          startedBy,
          workspaceId: bucket.workspace.id,
          bucketIds: [bucket.id],
        }),
      });
    });
    return jobId;
  };

  const assertEndpointAllowed = async (url: string | null | undefined) => {
    if (url) await assertUrlAllowed(url, deps.outboundPolicy);
  };
  /** An Azure connection string names its own endpoint, which must pass the same check. */
  const assertCredentialEndpointAllowed = async (
    credentials: { type: string; connectionString?: string } | undefined,
  ) => {
    const embedded =
      credentials?.connectionString && /BlobEndpoint=([^;]+)/i.exec(credentials.connectionString)?.[1];
    if (embedded) await assertEndpointAllowed(embedded);
  };

  return [
    protectedRoute({
      method: 'get',
      path: '/bucket',
      tag: 'buckets',
      summary: 'List buckets',
      access: 'VIEWER',
      query: workspaceSelector,
      response: { status: 200, description: 'Buckets' },
      async handler({ tenant, query }) {
        const where = query.workspaceId ? { workspace: { id: query.workspaceId } } : {};
        const buckets = await tenant.listInWorkspaces(Bucket, where, { orderBy: { name: 'asc' } });
        return { body: buckets.map(presentBucket) };
      },
    }),
    protectedRoute({
      method: 'get',
      path: '/bucket/available',
      tag: 'buckets',
      summary: 'Buckets that can be attached to a repository (validated, in its workspace, not attached yet)',
      access: 'VIEWER',
      query: z.object({ repoId: uuid.optional(), workspaceId: uuid.optional() }),
      response: { status: 200, description: 'Attachable buckets' },
      async handler({ tenant, query }) {
        const repository = query.repoId
          ? await tenant.findInWorkspace(Repository, 'Repository', query.repoId, { populate: ['buckets'] })
          : undefined;
        const workspaceId = repository?.workspace.id ?? query.workspaceId;
        const where = { status: 'VALID', ...(workspaceId ? { workspace: { id: workspaceId } } : {}) };
        const attached = new Set(repository?.buckets.getItems().map((bucket) => bucket.id) ?? []);
        const buckets = await tenant.listInWorkspaces(Bucket, where, { orderBy: { name: 'asc' } });
        return { body: buckets.filter((bucket) => !attached.has(bucket.id)).map(presentBucket) };
      },
    }),
    protectedRoute({
      method: 'post',
      path: '/bucket',
      tag: 'buckets',
      summary: 'Register a bucket; its credentials are validated by a Temporal job (JOB-1)',
      access: 'MEMBER',
      audit: 'bucket.create',
      body: createBody,
      response: {
        status: 201,
        description: 'Registered; status VALIDATING until the job records its result',
      },
      async handler({ em, tenant, caller, body, auditTarget, afterCommit }) {
        const workspace = await tenant.workspace(body.workspaceId);
        await assertNameFree(em, Bucket, {
          scope: { workspace: workspace.id },
          name: body.name,
          label: 'A bucket',
        });
        await assertEndpointAllowed(body.endpoint);
        await assertCredentialEndpointAllowed(body.credentials);
        const credentials = toProviderCredentials(body.provider, body.credentials);
        const id = randomUUID();
        const bucket = em.create(Bucket, {
          id,
          workspace,
          name: body.name,
          provider: body.provider,
          bucketName: body.bucketName,
          region: body.region ?? null,
          endpoint: body.endpoint ?? null,
          forcePathStyle: body.forcePathStyle,
          credentialsKind: body.credentials.type,
          credentials: sealBucketCredentials(deps.keyring, id, credentials),
          credentialsHint: credentialsHint(credentials),
          storageCapBytes: body.storageCapBytes ?? null,
          egressCapBytesPerDay: body.egressCapBytesPerDay ?? null,
          requestsPerMinuteCap: body.requestsPerMinuteCap ?? null,
        });
        scheduleValidation(bucket, caller.userId, afterCommit);
        await em.flush();
        auditTarget(
          { type: 'bucket', id, workspaceId: workspace.id },
          { name: body.name, provider: body.provider },
        );
        return { body: presentBucket(bucket) };
      },
    }),
    protectedRoute({
      method: 'get',
      path: '/bucket/:bucketId',
      tag: 'buckets',
      summary: 'Read a bucket (never its credentials)',
      access: 'VIEWER',
      params: idParam('bucketId'),
      response: { status: 200, description: 'The bucket' },
      async handler({ tenant, params }) {
        return { body: presentBucket(await tenant.findInWorkspace(Bucket, 'Bucket', params.bucketId)) };
      },
    }),
    protectedRoute({
      method: 'put',
      path: '/bucket/:bucketId',
      tag: 'buckets',
      summary: 'Update a bucket; new credentials or a new endpoint start a new validation',
      access: 'MEMBER',
      audit: 'bucket.update',
      params: idParam('bucketId'),
      body: updateBody,
      response: { status: 200, description: 'Updated' },
      async handler({ em, tenant, caller, params, body, auditTarget, afterCommit }) {
        const bucket = await tenant.findInWorkspace(Bucket, 'Bucket', params.bucketId, {
          populate: ['workspace'],
        });
        if (body.name && body.name !== bucket.name) {
          await assertNameFree(em, Bucket, {
            scope: { workspace: bucket.workspace.id },
            name: body.name,
            label: 'A bucket',
          });
        }
        if (body.endpoint !== undefined) await assertEndpointAllowed(body.endpoint);
        await assertCredentialEndpointAllowed(body.credentials);
        const changed = applyUpdate(bucket, body, deps.keyring);
        if (changed.includes('credentials') || changed.includes('endpoint') || changed.includes('region')) {
          scheduleValidation(bucket, caller.userId, afterCommit);
        }
        auditTarget({ type: 'bucket', id: bucket.id, workspaceId: bucket.workspace.id }, { fields: changed });
        return { body: presentBucket(bucket) };
      },
    }),
    protectedRoute({
      method: 'delete',
      path: '/bucket/:bucketId',
      tag: 'buckets',
      summary: 'Unregister a bucket (its data at the provider is not touched)',
      access: 'MEMBER',
      audit: 'bucket.delete',
      params: idParam('bucketId'),
      response: { status: 204, description: 'Deleted' },
      async handler({ em, tenant, params, auditTarget }) {
        const bucket = await tenant.findInWorkspace(Bucket, 'Bucket', params.bucketId);
        const attachedTo = await em.find(Repository, { buckets: bucket.id }, { fields: ['name'] });
        if (attachedTo.length > 0) {
          throw new AppError(
            'CONFLICT',
            `The bucket is attached to repositories ${attachedTo.map((repo) => `"${repo.name}"`).join(', ')}; detach it first`,
          );
        }
        auditTarget(
          { type: 'bucket', id: bucket.id, workspaceId: bucket.workspace.id },
          { name: bucket.name },
        );
        em.remove(bucket);
        return {};
      },
    }),
    protectedRoute({
      method: 'post',
      path: '/bucket/:bucketId/credentials/rotate',
      tag: 'buckets',
      summary:
        'Rotate the credentials (JOB-3): the new ones are probed first, the old ones kept until the switch is confirmed',
      access: 'MEMBER',
      audit: 'bucket.credentials.rotate',
      params: idParam('bucketId'),
      body: z.object({ credentials: bucketCredentialsInput }).strict(),
      response: { status: 202, description: 'Rotation job started' },
      async handler({ tenant, caller, params, body, auditTarget, afterCommit }) {
        const bucket = await tenant.findInWorkspace(Bucket, 'Bucket', params.bucketId, {
          populate: ['workspace'],
        });
        await assertCredentialEndpointAllowed(body.credentials);
        const credentials = toProviderCredentials(bucket.provider, body.credentials);
        bucket.pendingCredentials = sealBucketCredentials(
          deps.keyring,
          bucket.id,
          credentials,
          'pendingCredentials',
        );
        const jobId = `credential-rotation-${randomUUID()}`;
        afterCommit(async () => {
          await deps.temporal.workflow.start('rotateBucketCredentialsWorkflow', {
            workflowId: jobId,
            taskQueue: deps.taskQueue,
            args: [{ bucketId: bucket.id }],
            ...jobStartOptions({
              kind: 'credential-rotation',
              organizationId: bucket.workspace.organization.id,
              startedBy: caller.userId,
              workspaceId: bucket.workspace.id,
              bucketIds: [bucket.id],
            }),
          });
        });
        auditTarget({ type: 'bucket', id: bucket.id, workspaceId: bucket.workspace.id }, { jobId });
        return { headers: { location: `/jobs/${jobId}` }, body: { jobId } };
      },
    }),
    protectedRoute({
      method: 'post',
      path: '/bucket/:bucketId/validate',
      tag: 'buckets',
      summary: 'Validate the bucket again now (JOB-1)',
      access: 'MEMBER',
      audit: 'bucket.validate',
      params: idParam('bucketId'),
      response: { status: 202, description: 'Validation job started' },
      async handler({ tenant, caller, params, auditTarget, afterCommit }) {
        const bucket = await tenant.findInWorkspace(Bucket, 'Bucket', params.bucketId, {
          populate: ['workspace'],
        });
        const jobId = scheduleValidation(bucket, caller.userId, afterCommit);
        auditTarget({ type: 'bucket', id: bucket.id, workspaceId: bucket.workspace.id }, { jobId });
        return {
          headers: { location: `/bucket/${bucket.id}/validation` },
          body: { jobId, status: 'VALIDATING' },
        };
      },
    }),
    protectedRoute({
      method: 'get',
      path: '/bucket/:bucketId/validation',
      tag: 'buckets',
      summary: 'Live state of the latest validation job (Temporal query)',
      access: 'VIEWER',
      params: idParam('bucketId'),
      response: { status: 200, description: 'Validation state' },
      async handler({ tenant, params }) {
        const bucket = await tenant.findInWorkspace(Bucket, 'Bucket', params.bucketId);
        if (!bucket.validationJobId)
          throw new AppError('NOT_FOUND', 'This bucket has not been validated yet');
        const handle = deps.temporal.workflow.getHandle(bucket.validationJobId);
        const [description, state] = await Promise.all([
          handle.describe(),
          handle.query(bucketValidationStateQuery),
        ]);
        return { body: { jobId: bucket.validationJobId, status: description.status.name, state } };
      },
    }),
  ];
}

/** Applies the changes and names the fields that changed (never their values: some are secret). */
function applyUpdate(bucket: Bucket, body: z.infer<typeof updateBody>, keyring: MasterKeyring): string[] {
  const changed: string[] = [];
  const plain = [
    'name',
    'region',
    'endpoint',
    'forcePathStyle',
    'storageCapBytes',
    'egressCapBytesPerDay',
    'requestsPerMinuteCap',
  ] as const;
  for (const field of plain) {
    const value = body[field];
    if (value === undefined || value === bucket[field]) continue;
    Object.assign(bucket, { [field]: value });
    changed.push(field);
  }
  if (body.credentials) {
    const credentials = toProviderCredentials(bucket.provider, body.credentials);
    bucket.credentials = sealBucketCredentials(keyring, bucket.id, credentials);
    bucket.credentialsKind = body.credentials.type;
    bucket.credentialsHint = credentialsHint(credentials);
    changed.push('credentials');
  }
  return changed;
}
