/**
 * `BRIDGE_PROCESSES=2`: one bridge on two processes. Both share the
 * listeners, /metrics sums them whichever answers, one that dies is
 * replaced, and a stop stops them all.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../helpers/context.ts';
import { type ProjectProcess, startBridgeProcess } from '../helpers/processes.ts';

const PROCESSES = 2;

/** The processes `pid` forked. */
async function childrenOf(pid: number): Promise<number[]> {
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return children.split(' ').filter(Boolean).map(Number).sort();
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let tries = 0; tries < 300; tries++) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** One S3 request on a connection of its own, with a key nobody issued: 403 InvalidAccessKeyId. */
function unknownKeyRequest(s3Url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get(
      `${s3Url}/`,
      {
        agent: false,
        headers: {
          authorization:
            'AWS4-HMAC-SHA256 Credential=SBNOSUCHKEY000000000/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=00',
          'x-amz-date': new Date().toISOString().replace(/[-:]|\.\d{3}/g, ''),
          'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
        },
      },
      (response) => {
        response.resume();
        response.once('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.once('error', reject);
  });
}

/** The sum of a counter's series whose labels contain `labels`, from a Prometheus text page. */
function counterSum(page: string, name: string, labels: string): number {
  return page
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) && line.includes(labels))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

const metricsPage = async (openaiUrl: string) => (await fetch(`${openaiUrl}/metrics`)).text();

describe('a bridge of several processes (BRIDGE_PROCESSES)', () => {
  let stack: TestStack;
  let bridge: ProjectProcess & { s3Url: string; openaiUrl: string };

  beforeAll(async () => {
    stack = await startTestStack({ worker: false });
    bridge = await startBridgeProcess(stack, { BRIDGE_PROCESSES: String(PROCESSES) });
    await waitFor('the bridge processes', async () =>
      (await childrenOf(bridge.pid)).length === PROCESSES ? true : undefined,
    );
  });

  afterAll(async () => {
    await bridge?.stop();
    await stack?.close();
  });

  it('serves from every process, and /metrics counts the requests of all of them', async () => {
    const before = counterSum(
      await metricsPage(bridge.openaiUrl),
      'skybridge_s3_requests_total',
      'status="403"',
    );
    const requests = 12;
    for (let index = 0; index < requests; index++) expect(await unknownKeyRequest(bridge.s3Url)).toBe(403);
    // Connections go to the processes in turn, so each answered some; a page from one process alone would count half.
    for (let read = 0; read < 4; read++) {
      const page = await metricsPage(bridge.openaiUrl);
      expect(counterSum(page, 'skybridge_s3_requests_total', 'status="403"') - before).toBe(requests);
    }
  });

  it('replaces a process that dies, and keeps answering meanwhile', async () => {
    const [victim, survivor] = await childrenOf(bridge.pid);
    process.kill(victim!, 'SIGKILL');
    await waitFor('the primary to see it die', async () =>
      (await childrenOf(bridge.pid)).includes(victim!) ? undefined : true,
    );
    expect(await unknownKeyRequest(bridge.s3Url)).toBe(403);
    const replaced = await waitFor('a replacement process', async () => {
      const now = await childrenOf(bridge.pid);
      return now.length === PROCESSES && !now.includes(victim!) ? now : undefined;
    });
    expect(replaced).toContain(survivor);
    await waitFor('the replacement to serve', async () => {
      const page = await metricsPage(bridge.openaiUrl).catch(() => '');
      return page.includes('skybridge_s3_requests_total') ? true : undefined;
    });
    for (let index = 0; index < 4; index++) expect(await unknownKeyRequest(bridge.s3Url)).toBe(403);
  });

  it('stops every process on SIGTERM', async () => {
    const children = await childrenOf(bridge.pid);
    await bridge.stop();
    const alive = children.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    expect(alive).toEqual([]);
  });
});
