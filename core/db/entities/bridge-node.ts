import { defineEntity, p } from '@mikro-orm/core';
import { uuidPrimaryKey } from './common-properties.ts';

/**
 * JOB-5: one running (or once running) bridge process, registered by the
 * process itself at start (`core/nodes/registration.ts`). A restart with the
 * same label and address takes its row back. Nodes are not tenant data: they
 * serve every organization.
 */
const BridgeNodeSchema = defineEntity({
  name: 'BridgeNode',
  tableName: 'bridge_nodes',
  uniques: [{ properties: ['label', 'address'] }],
  properties: {
    id: uuidPrimaryKey(),
    /** `<api>-<region>-<provider>`, e.g. `s3-eu-central-1-gcp`. */
    label: p.string().length(200),
    /** The protocol the node's main address speaks (`s3`). */
    api: p.string().length(20),
    region: p.string().length(64),
    provider: p.string().length(64),
    /** The S3 endpoint clients use (FB_S3_ENDPOINT). */
    address: p.string().length(2048),
    /** The OpenAI-compatible base URL, with `/v1` (FB_OPENAI_BASE_URL). */
    openaiAddress: p.string().length(2048).nullable(),
    /** What the probes GET (the process's /healthz). */
    healthUrl: p.string().length(2048),
    version: p.string().length(64),
    heartbeatSeconds: p.integer(),
    startedAt: p.datetime(),
    lastSeenAt: p.datetime(),
    /** Set by a graceful stop; a crashed node keeps null and goes silent. */
    stoppedAt: p.datetime().nullable(),
  },
});
export class BridgeNode extends BridgeNodeSchema.class {}
BridgeNodeSchema.setClass(BridgeNode);
