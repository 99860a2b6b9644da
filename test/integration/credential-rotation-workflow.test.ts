/**
 * The bucket credential rotation workflow against the real Temporal dev
 * server, with scripted activities: the paths a real backend cannot easily
 * be made to take (new credentials that pass their probe, then fail once in
 * use), and the order of the steps.
 */
import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CredentialRotationState } from '../../workflows/definitions.ts';
import { services } from '../helpers/context.ts';

type Field = 'credentials' | 'pendingCredentials';

describe('rotateBucketCredentialsWorkflow', () => {
  let client: Client;
  let clientConnection: Connection;

  beforeAll(async () => {
    clientConnection = await Connection.connect({ address: services().temporal.address });
    client = new Client({ connection: clientConnection, namespace: services().temporal.namespace });
  });
  afterAll(async () => {
    await clientConnection?.close();
  });

  /** Runs one rotation on a worker whose probes fail for the given columns; returns the state and the steps. */
  async function rotate(
    failingProbes: Field[],
  ): Promise<{ state: CredentialRotationState; steps: string[] }> {
    const steps: string[] = [];
    const taskQueue = `rotation-${randomUUID()}`;
    const connection = await NativeConnection.connect({ address: services().temporal.address });
    const worker = await Worker.create({
      connection,
      namespace: services().temporal.namespace,
      taskQueue,
      workflowBundle: { codePath: services().workflowBundlePath },
      activities: {
        async probeCredentials(_bucketId: string, field: Field) {
          steps.push(`probe ${field}`);
          if (failingProbes.includes(field))
            throw ApplicationFailure.create({
              type: 'InvalidCredentials',
              message: 'refused',
              nonRetryable: true,
            });
          return { latencyMs: {} };
        },
        async switchToPendingCredentials() {
          steps.push('switch');
        },
        async rollBackBucketCredentials() {
          steps.push('roll back');
        },
        async clearRotatedCredentials() {
          steps.push('clear');
        },
      },
    });
    const state = await worker.runUntil(
      client.workflow.execute('rotateBucketCredentialsWorkflow', {
        taskQueue,
        workflowId: `credential-rotation-${randomUUID()}`,
        args: [{ bucketId: randomUUID() }],
      }),
    );
    await connection.close();
    return { state: state as CredentialRotationState, steps };
  }

  it('switches after the new credentials pass, and confirms', async () => {
    expect(await rotate([])).toEqual({
      state: { phase: 'DONE', outcome: 'ROTATED' },
      steps: ['probe pendingCredentials', 'switch', 'probe credentials', 'clear'],
    });
  });

  it('changes nothing when the new credentials fail their probe', async () => {
    expect(await rotate(['pendingCredentials'])).toEqual({
      state: { phase: 'DONE', outcome: 'REJECTED', reason: 'InvalidCredentials: refused' },
      steps: ['probe pendingCredentials', 'clear'],
    });
  });

  it('rolls back to the old credentials when the switch is not confirmed', async () => {
    expect(await rotate(['credentials'])).toEqual({
      state: { phase: 'DONE', outcome: 'ROLLED_BACK', reason: 'InvalidCredentials: refused' },
      steps: ['probe pendingCredentials', 'switch', 'probe credentials', 'roll back', 'clear'],
    });
  });
});
