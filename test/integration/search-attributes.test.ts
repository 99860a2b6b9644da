/** `npm run temporal:setup` registers Skybridge's search attributes on a namespace of an existing cluster. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import Long from 'long';
import { describe, expect, it } from 'vitest';
import { services } from '../helpers/context.ts';

const script = path.resolve(import.meta.dirname, '../../scripts/register-search-attributes.ts');

describe('registering search attributes', () => {
  it('adds the missing ones to a new namespace, and a second run changes nothing', async () => {
    const { address } = services().temporal;
    const namespace = `setup-${Date.now()}`;
    const connection = await Connection.connect({ address });
    await connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: { seconds: Long.fromNumber(86_400) },
    });
    const env = { PATH: process.env.PATH, TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: namespace };
    const run = () => promisify(execFile)(process.execPath, [script], { env });

    let first: { stdout: string } | undefined;
    for (let attempt = 0; attempt < 20 && !first; attempt++) {
      // A new namespace takes a moment to be visible to the operator service.
      first = await run().catch(async () => {
        await new Promise((resolve) => setTimeout(resolve, 500));
        return undefined;
      });
    }
    expect(first?.stdout).toContain(
      'registered SkybridgeOrganization, SkybridgeKind, SkybridgeWorkspace, SkybridgeRepository, SkybridgeStatus, SkybridgeBuckets',
    );
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    expect(Object.keys(customAttributes ?? {})).toEqual(
      expect.arrayContaining([
        'SkybridgeKind',
        'SkybridgeWorkspace',
        'SkybridgeRepository',
        'SkybridgeStatus',
        'SkybridgeBuckets',
      ]),
    );
    expect((await run()).stdout).toContain('already has');
    await connection.close();
  });
});
