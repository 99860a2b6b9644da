/**
 * OBS-4: SLA targets per bucket and, as the organization's default, per
 * provider; set by admins and audited. Compliance and reputation are
 * computed by the probe workflow (`core/sla/compliance.ts`): these routes
 * only read them back.
 */
import { z } from 'zod';
import {
  Bucket,
  BucketSla,
  bucketProviders,
  ProviderSla,
  SlaCompliance,
  slaWindows,
} from '../../core/db/entities/index.ts';
import type { EntityManager } from '../../core/db/orm.ts';
import { loadBucketReputations, presentReputation } from '../../core/sla/reputation.ts';
import {
  defaultBucketTarget,
  defaultNodeTarget,
  effectiveTarget,
  type PartialSlaTarget,
  partialOf,
} from '../../core/sla/targets.ts';
import { type AnyRoute, protectedRoute } from '../routing/route.ts';
import { idParam, iso } from '../schemas.ts';

const targetFields = {
  availabilityPercent: z
    .number()
    .gt(0, 'must be more than 0')
    .max(100, 'must be at most 100')
    .nullable()
    .optional(),
  p95LatencyMs: z
    .number()
    .int()
    .positive()
    .max(600_000, 'must be at most 600000 (10 minutes)')
    .nullable()
    .optional(),
};

const atLeastOneTarget = (body: { availabilityPercent?: number | null; p95LatencyMs?: number | null }) =>
  body.availabilityPercent !== undefined || body.p95LatencyMs !== undefined;
const atLeastOneMessage = {
  message: 'set availabilityPercent, p95LatencyMs or both (null inherits the default)',
};

const bucketTargetBody = z.object(targetFields).strict().refine(atLeastOneTarget, atLeastOneMessage);
const providerTargetBody = z
  .object({ provider: z.enum(bucketProviders), ...targetFields })
  .strict()
  .refine(atLeastOneTarget, atLeastOneMessage);

type TargetChange = z.infer<typeof bucketTargetBody>;

/** Applies the given fields and names those that changed. */
function applyTarget(sla: BucketSla | ProviderSla, change: TargetChange): string[] {
  const changed: string[] = [];
  for (const field of ['availabilityPercent', 'p95LatencyMs'] as const) {
    const value = change[field];
    if (value === undefined || value === sla[field]) continue;
    Object.assign(sla, { [field]: value });
    changed.push(field);
  }
  return changed;
}

const isEmpty = (target: PartialSlaTarget | undefined) =>
  !target || (target.availabilityPercent === null && target.p95LatencyMs === null);

async function bucketSlaView(em: EntityManager, bucket: Bucket) {
  const own = partialOf((await em.findOne(BucketSla, { bucket: bucket.id })) ?? undefined);
  const providerDefault = partialOf(
    (await em.findOne(ProviderSla, {
      organization: bucket.workspace.organization.id,
      provider: bucket.provider,
    })) ?? undefined,
  );
  const compliance = await em.find(
    SlaCompliance,
    { subjectKind: 'BUCKET', subjectId: bucket.id },
    { orderBy: { measuredAt: 'desc' } },
  );
  const reputations = await loadBucketReputations(em, [bucket.id]);
  return {
    bucketId: bucket.id,
    provider: bucket.provider,
    target: own ?? { availabilityPercent: null, p95LatencyMs: null },
    providerDefault: providerDefault ?? null,
    effective: effectiveTarget(own, providerDefault),
    compliance: slaWindows.flatMap((window) => {
      const row = compliance.find((entry) => entry.windowName === window);
      return row ? [presentCompliance(row)] : [];
    }),
    reputation: presentReputation(reputations.get(bucket.id)),
  };
}

function presentCompliance(row: SlaCompliance) {
  return {
    window: row.windowName,
    availabilityPercent: row.availabilityPercent == null ? null : Number(row.availabilityPercent),
    p95LatencyMs: row.p95LatencyMs ?? null,
    compliant: row.compliant ?? null,
    probes: row.probes,
    probeFailures: row.probeFailures,
    requests: row.requests,
    serverErrors: row.serverErrors,
    measuredAt: iso(row.measuredAt),
  };
}

export function slaRoutes(): AnyRoute[] {
  return [
    protectedRoute({
      method: 'get',
      path: '/bucket/:bucketId/sla',
      tag: 'slas',
      summary:
        "The bucket's SLA targets (own, provider default, effective), compliance per window and reputation",
      access: 'VIEWER',
      params: idParam('bucketId'),
      response: { status: 200, description: 'The SLA' },
      async handler({ em, tenant, params }) {
        const bucket = await tenant.findInWorkspace(Bucket, 'Bucket', params.bucketId, {
          populate: ['workspace'],
        });
        return { body: await bucketSlaView(em, bucket) };
      },
    }),
    protectedRoute({
      method: 'put',
      path: '/bucket/:bucketId/sla',
      tag: 'slas',
      summary:
        "Set the bucket's target availability (%) and p95 latency (ms); null inherits the provider default",
      access: 'ADMIN',
      audit: 'bucket.sla.update',
      params: idParam('bucketId'),
      body: bucketTargetBody,
      response: {
        status: 200,
        description: 'The SLA, as GET answers it (compliance follows the next probe round)',
      },
      async handler({ em, tenant, params, body, auditTarget }) {
        const bucket = await tenant.findInWorkspace(Bucket, 'Bucket', params.bucketId, {
          populate: ['workspace'],
        });
        const sla =
          (await em.findOne(BucketSla, { bucket: bucket.id })) ??
          em.create(BucketSla, { bucket, availabilityPercent: null, p95LatencyMs: null });
        const fields = applyTarget(sla, body);
        if (isEmpty(partialOf(sla))) em.remove(sla);
        await em.flush();
        auditTarget({ type: 'bucket', id: bucket.id, workspaceId: bucket.workspace.id }, { fields, ...body });
        return { body: await bucketSlaView(em, bucket) };
      },
    }),
    protectedRoute({
      method: 'get',
      path: '/organization/sla',
      tag: 'slas',
      summary: "The organization's SLA defaults per provider, and Skybridge's where none is set",
      access: 'VIEWER',
      response: { status: 200, description: 'Defaults per provider' },
      async handler({ tenant }) {
        return { body: await providerDefaultsView(tenant.listInOrganization(ProviderSla)) };
      },
    }),
    protectedRoute({
      method: 'put',
      path: '/organization/sla',
      tag: 'slas',
      summary:
        "Set the organization's default SLA for one provider's buckets; null fields fall back to Skybridge's",
      access: 'ADMIN',
      audit: 'organization.sla.update',
      body: providerTargetBody,
      response: { status: 200, description: 'Defaults per provider' },
      async handler({ em, tenant, caller, body, auditTarget }) {
        const { provider, ...change } = body;
        const sla =
          (await em.findOne(ProviderSla, { organization: caller.organizationId, provider })) ??
          em.create(ProviderSla, {
            organization: caller.organizationId,
            provider,
            availabilityPercent: null,
            p95LatencyMs: null,
          });
        const fields = applyTarget(sla, change);
        if (isEmpty(partialOf(sla))) em.remove(sla);
        await em.flush();
        auditTarget({ type: 'organization', id: caller.organizationId }, { provider, fields, ...change });
        return { body: await providerDefaultsView(tenant.listInOrganization(ProviderSla)) };
      },
    }),
  ];
}

async function providerDefaultsView(defaults: Promise<ProviderSla[]>) {
  const byProvider = new Map((await defaults).map((sla) => [sla.provider, partialOf(sla)]));
  return {
    skybridgeDefaults: { bucket: defaultBucketTarget, node: defaultNodeTarget },
    providers: bucketProviders.map((provider) => ({
      provider,
      target: byProvider.get(provider) ?? null,
      effective: effectiveTarget(undefined, byProvider.get(provider)),
    })),
  };
}
