/**
 * Determinism: the recorded histories of every kind of job
 * (test/fixtures/workflow-histories, written by
 * workflow-histories.record.test.ts) replay against the current workflow
 * code. A change that would break jobs already running fails here.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../scripts/tools.ts';
import { jobKinds } from '../../workflows/definitions.ts';
import { services } from '../helpers/context.ts';

const historiesDirectory = path.join(projectRoot, 'test', 'fixtures', 'workflow-histories');

/** Each history under its file name (the replay reports failures by it). */
async function recordedHistories() {
  const files = (await readdir(historiesDirectory)).filter((file) => file.endsWith('.binpb')).sort();
  return Promise.all(
    files.map(async (file) => ({
      file,
      workflowId: file,
      history: proto.temporal.api.history.v1.History.decode(
        await readFile(path.join(historiesDirectory, file)),
      ),
    })),
  );
}

describe('workflow replay', () => {
  it('has recorded histories of every kind of job', async () => {
    const kinds = new Set((await recordedHistories()).map(({ file }) => file.replace(/-\d+\.binpb$/, '')));
    expect([...kinds].sort()).toEqual([...jobKinds].sort());
  });

  it('replays every recorded history against the current workflow code', async () => {
    const histories = await recordedHistories();
    const failures: string[] = [];
    const results = Worker.runReplayHistories(
      { workflowBundle: { codePath: services().workflowBundlePath }, replayName: 'skybridge-replay' },
      histories.map(({ workflowId, history }) => ({ workflowId, history })),
    );
    let replayed = 0;
    for await (const result of results) {
      replayed++;
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
    expect(replayed).toBe(histories.length);
  });
});
