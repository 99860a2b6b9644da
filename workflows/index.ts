/** Every workflow the worker runs; this file is the bundler's entry point. */
export { migrationWorkflow } from './migrate.ts';
export { pingWorkflow } from './ping.ts';
export { probeNodesWorkflow } from './probe-nodes.ts';
export { rebalanceWorkflow } from './rebalance.ts';
export { rollupUsageWorkflow } from './rollup-usage.ts';
export { rotateBucketCredentialsWorkflow } from './rotate-bucket-credentials.ts';
export { rotateKeyWorkflow } from './rotate-key.ts';
export { validateBucketWorkflow } from './validate-bucket.ts';
