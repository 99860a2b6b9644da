/**
 * Which S3 operations the test bridge answered with success, on which
 * backend: each test file writes what it saw to test/results/s3-operations/,
 * and `npm run docs:s3-compatibility` turns the files into README's
 * compatibility table. A cell is "tested" only if a test drove that
 * operation to a 2xx answer on that backend through the real bridge.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Bucket } from '../../core/db/entities/index.ts';
import type { EntityManager } from '../../core/db/orm.ts';
import type { UsageEventInput } from '../../core/metering/usage-recorder.ts';
import { projectRoot } from '../../scripts/tools.ts';

export const s3OperationsDir = path.join(projectRoot, 'test', 'results', 's3-operations');

/** One line of a results file: an operation that succeeded on a provider ('*' when it names no bucket). */
export interface ObservedOperation {
  operation: string;
  provider: string;
}

export class S3OperationLog {
  readonly #seen = new Map<string, Set<string>>();

  observe(event: Pick<UsageEventInput, 'operation' | 'bucketId' | 'status'>): void {
    if (event.status < 200 || event.status > 299) return;
    const bucket = event.bucketId ?? '*';
    const operations = this.#seen.get(bucket) ?? new Set();
    operations.add(event.operation);
    this.#seen.set(bucket, operations);
  }

  async write(em: EntityManager): Promise<void> {
    if (this.#seen.size === 0) return;
    const ids = [...this.#seen.keys()].filter((id) => id !== '*');
    const buckets = await em.fork().find(Bucket, { id: { $in: ids } });
    const providerOf = new Map(buckets.map((bucket) => [bucket.id, bucket.provider]));
    const lines: ObservedOperation[] = [];
    for (const [bucketId, operations] of this.#seen) {
      const provider = bucketId === '*' ? '*' : providerOf.get(bucketId);
      if (provider) for (const operation of operations) lines.push({ operation, provider });
    }
    await mkdir(s3OperationsDir, { recursive: true });
    await writeFile(path.join(s3OperationsDir, `${randomUUID()}.json`), JSON.stringify(lines));
  }
}
