/**
 * `npm run workflows:bundle -- <file>`: writes the workflow bundle that a
 * worker loads with `WORKFLOW_BUNDLE_PATH`, instead of bundling `workflows/`
 * itself at start. Bundling (webpack) takes ~170 MB that the worker process
 * would keep for its lifetime; done here, in a process that exits, the worker
 * starts faster and stays smaller. `npm start` and the Docker image do this.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowBundleOptions } from '../workers/skybridge-worker.ts';

const target = process.argv[2];
if (!target) {
  console.error('usage: node scripts/bundle-workflows.ts <output file>');
  process.exit(2);
}
const quiet = { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} };
const { code } = await bundleWorkflowCode({ ...workflowBundleOptions, logger: quiet });
await mkdir(path.dirname(path.resolve(target)), { recursive: true });
await writeFile(target, code);
console.log(`wrote the workflow bundle (${(code.length / 1e6).toFixed(1)} MB) to ${target}`);
