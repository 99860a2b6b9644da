/** OBS-4's pure parts: targets falling back field by field, window compliance, the reputation formula, node labels. */
import { describe, expect, it } from 'vitest';
import { timedProbe } from '../../core/nodes/probes.ts';
import { bridgeNodeIdentity, nodeLabel, softwareVersion } from '../../core/nodes/registration.ts';
import { type WindowFigures, windowCompliance } from '../../core/sla/compliance.ts';
import { reputationScore } from '../../core/sla/reputation.ts';
import { defaultBucketTarget, effectiveTarget } from '../../core/sla/targets.ts';

const target = { availabilityPercent: 99, p95LatencyMs: 200 };
const figures = (overrides: Partial<WindowFigures>): WindowFigures => ({
  probes: 0,
  probeFailures: 0,
  probeP95LatencyMs: null,
  requests: 0,
  serverErrors: 0,
  requestP95LatencyMs: null,
  ...overrides,
});

describe('SLA targets', () => {
  it("take the bucket's own fields first, then the provider default's, then Skybridge's", () => {
    expect(effectiveTarget(undefined, undefined)).toEqual({
      ...defaultBucketTarget,
      sources: { availabilityPercent: 'default', p95LatencyMs: 'default' },
    });
    expect(
      effectiveTarget(
        { availabilityPercent: null, p95LatencyMs: 150 },
        { availabilityPercent: 99.9, p95LatencyMs: 400 },
      ),
    ).toEqual({
      availabilityPercent: 99.9,
      p95LatencyMs: 150,
      sources: { availabilityPercent: 'provider', p95LatencyMs: 'bucket' },
    });
  });
});

describe('window compliance', () => {
  it('is unknown without probes or requests', () => {
    expect(windowCompliance(figures({}), target)).toEqual({
      availabilityPercent: null,
      p95LatencyMs: null,
      compliant: null,
    });
  });

  it('takes the worse of what probes and clients saw', () => {
    const seen = windowCompliance(
      figures({
        probes: 60,
        probeFailures: 0,
        probeP95LatencyMs: 40,
        requests: 1000,
        serverErrors: 20,
        requestP95LatencyMs: 120,
      }),
      target,
    );
    expect(seen).toEqual({ availabilityPercent: 98, p95LatencyMs: 120, compliant: false });
  });

  it('complies when both targets are met, and not when the p95 is slower', () => {
    expect(windowCompliance(figures({ probes: 10, probeP95LatencyMs: 200 }), target).compliant).toBe(true);
    expect(windowCompliance(figures({ probes: 10, probeP95LatencyMs: 201 }), target).compliant).toBe(false);
  });
});

describe('reputation score', () => {
  const base = { target, availabilityPercent: 100, p95LatencyMs: 50, recentProbes: 15, recentFailures: 0 };

  it('is 1 for a subject meeting its SLA with nothing failing, and unknown when nothing was measured', () => {
    expect(reputationScore(base)).toBe(1);
    expect(reputationScore({ ...base, availabilityPercent: null, p95LatencyMs: null })).toBeNull();
  });

  it('loses a tenth per availability point below target, reaching 0 ten points below', () => {
    expect(reputationScore({ ...base, availabilityPercent: 97 })).toBe(0.8);
    expect(reputationScore({ ...base, availabilityPercent: 89 })).toBe(0);
    expect(reputationScore({ ...base, availabilityPercent: 0 })).toBe(0);
  });

  it('scales by target over p95 when slower than the target', () => {
    expect(reputationScore({ ...base, p95LatencyMs: 400 })).toBe(0.5);
  });

  it('scales by the share of recent probes that succeeded', () => {
    expect(reputationScore({ ...base, recentFailures: 3 })).toBe(0.8);
    expect(reputationScore({ ...base, recentProbes: 0 })).toBe(1);
  });

  it('multiplies the three factors', () => {
    expect(reputationScore({ ...base, availabilityPercent: 98, p95LatencyMs: 400, recentFailures: 3 })).toBe(
      0.36,
    );
  });
});

describe('bridge node identity', () => {
  it("labels nodes `<api>-<region>-<provider>` and derives addresses from the listeners' unless set", () => {
    const listeners = { s3Url: 'http://127.0.0.1:9000', openaiUrl: 'http://127.0.0.1:9100' };
    const local = bridgeNodeIdentity({ region: 'local', provider: 'self', heartbeatSeconds: 15 }, listeners);
    expect(nodeLabel(local)).toBe('s3-local-self');
    expect(local).toMatchObject({
      address: 'http://127.0.0.1:9000',
      openaiAddress: 'http://127.0.0.1:9100/v1',
      healthUrl: 'http://127.0.0.1:9100/healthz',
      version: softwareVersion(),
    });
    const published = bridgeNodeIdentity(
      {
        region: 'eu-central-1',
        provider: 'gcp',
        heartbeatSeconds: 15,
        publicS3Url: 'https://s3-eu-central-1-gcp.example.com/',
        publicOpenaiUrl: 'https://edge.example.com/skybridge/v1',
      },
      listeners,
    );
    expect(nodeLabel(published)).toBe('s3-eu-central-1-gcp');
    expect(published).toMatchObject({
      address: 'https://s3-eu-central-1-gcp.example.com',
      healthUrl: 'https://edge.example.com/skybridge/healthz',
    });
  });
});

describe('timed probes', () => {
  it('fail with the reason, or after the timeout', async () => {
    expect(await timedProbe(async () => 'fine', 1000)).toMatchObject({ ok: true, reason: null });
    const refused = await timedProbe(() => Promise.reject(new Error('connect ECONNREFUSED')), 1000);
    expect(refused).toMatchObject({ ok: false, reason: 'connect ECONNREFUSED' });
    const slow = await timedProbe(() => new Promise((resolve) => setTimeout(resolve, 500)), 50);
    expect(slow).toMatchObject({ ok: false, reason: 'no answer within 50 ms' });
    expect(slow.latencyMs).toBeGreaterThanOrEqual(49);
  });
});
