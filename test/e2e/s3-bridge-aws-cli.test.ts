/**
 * The S3 bridge with the real AWS CLI (`aws s3 …`, `aws s3api …`, `aws s3
 * presign`), run as a child process against one repository whose buckets
 * live on MinIO, fake-gcs-server and Azurite. Every object stays under the
 * CLI's multipart threshold: the bridge does not serve multipart uploads yet.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsCli, type AwsCliResult, awsCliVersion, createAwsCli } from '../helpers/aws-cli.ts';
import { startTestBridge, type TestBridge } from '../helpers/bridge.ts';
import { api, login, startTestStack, type TestStack } from '../helpers/context.ts';
import { type Backend, backends, createThreeBackendRepository } from '../helpers/emulator-buckets.ts';

const cliVersion = await awsCliVersion();

/** Fails with the CLI's own output, which says what the bridge answered. */
function expectSuccess(result: AwsCliResult): AwsCliResult {
  expect(result.code, `aws exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`).toBe(
    0,
  );
  return result;
}

// biome-ignore lint/suspicious/noExplicitAny: s3api prints JSON whose fields the tests read ad hoc
const json = (result: AwsCliResult): any => JSON.parse(expectSuccess(result).stdout);

/** `aws s3 ls s3://…` lines: `PRE name/` for prefixes, `date time size name` for objects. */
function parseLs(stdout: string): { prefixes: string[]; objects: { name: string; size: number }[] } {
  const prefixes: string[] = [];
  const objects: { name: string; size: number }[] = [];
  for (const line of stdout.split('\n')) {
    const prefix = /^\s+PRE (.+)$/.exec(line);
    if (prefix) prefixes.push(prefix[1]!);
    const object = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+(\d+) (.+)$/.exec(line);
    if (object) objects.push({ name: object[2]!, size: Number(object[1]) });
  }
  return { prefixes, objects };
}

/** `aws s3 ls` of nothing prints nothing and exits 1 (errors exit 255 with a message). */
function expectEmptyListing(result: AwsCliResult): void {
  expect(result, 'an empty listing').toEqual({ code: 1, stdout: '', stderr: '' });
}

describe.skipIf(!cliVersion)(`S3 bridge with the AWS CLI (${cliVersion ?? 'not installed'})`, () => {
  let stack: TestStack;
  let bridge: TestBridge;
  let token: string;
  let repoId: string;
  let cli: AwsCli;
  let writer: { accessKeyId: string; secretAccessKey: string };
  let reader: { accessKeyId: string; secretAccessKey: string };
  let names: Record<Backend, string>;
  const call = (method: string, path: string, body?: unknown) =>
    api(stack.baseUrl, method, path, { token, body });
  const aws = (...args: string[]) => cli.run(args);

  beforeAll(async () => {
    stack = await startTestStack();
    bridge = await startTestBridge(stack);
    token = await login(stack.baseUrl, stack.admin);
    ({ repoId, names } = await createThreeBackendRepository(call, 'aws-cli'));
    const readWrite = await call('POST', `/repo/${repoId}/apikey`, { name: 'cli', scope: 'READ_WRITE' });
    expect(readWrite.status, JSON.stringify(readWrite.body)).toBe(201);
    writer = { accessKeyId: readWrite.body.accessKeyId, secretAccessKey: readWrite.body.secretAccessKey };
    cli = await createAwsCli(bridge.endpoint, writer);
    const readOnly = await call('POST', `/repo/${repoId}/apikey`, { name: 'cli-reader', scope: 'READ' });
    expect(readOnly.status, JSON.stringify(readOnly.body)).toBe(201);
    reader = { accessKeyId: readOnly.body.accessKeyId, secretAccessKey: readOnly.body.secretAccessKey };
  });
  afterAll(async () => {
    await cli?.close();
    await bridge?.close();
    await stack?.close();
  });

  it("`aws s3 ls` lists the repository's buckets", async () => {
    const { stdout } = expectSuccess(await aws('s3', 'ls'));
    const listed = stdout
      .trim()
      .split('\n')
      .map((line) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (.+)$/.exec(line)?.[1]);
    expect(listed.sort()).toEqual(Object.values(names).sort());
  });

  // The backends run side by side (each test spawns several short-lived CLI processes).
  describe.concurrent.each(backends)('on %s', (backend) => {
    const bucket = () => names[backend];
    const local = (...parts: string[]) => path.join(cli.dir, backend, ...parts);
    beforeAll(async () => {
      await mkdir(local(), { recursive: true });
    });

    it('`aws s3 cp` uploads and downloads a file byte for byte; `aws s3 ls` lists a prefix', async () => {
      const body = randomBytes(1_500_000);
      await writeFile(local('one.bin'), body);
      expectSuccess(await aws('s3', 'cp', local('one.bin'), `s3://${bucket()}/cp/one.bin`));
      await writeFile(local('two.txt'), 'two');
      expectSuccess(await aws('s3', 'cp', local('two.txt'), `s3://${bucket()}/cp/sub/two.txt`));

      const listed = parseLs(expectSuccess(await aws('s3', 'ls', `s3://${bucket()}/cp/`)).stdout);
      expect(listed.prefixes).toEqual(['sub/']);
      expect(listed.objects).toEqual([{ name: 'one.bin', size: body.length }]);
      const recursive = parseLs(
        expectSuccess(await aws('s3', 'ls', `s3://${bucket()}/cp/`, '--recursive')).stdout,
      );
      expect(recursive.objects.map((object) => object.name)).toEqual(['cp/one.bin', 'cp/sub/two.txt']);

      expectSuccess(await aws('s3', 'cp', `s3://${bucket()}/cp/one.bin`, local('one.down')));
      expect((await readFile(local('one.down'))).equals(body)).toBe(true);

      expectSuccess(await aws('s3', 'rm', `s3://${bucket()}/cp/one.bin`));
      const missing = await aws('s3api', 'head-object', '--bucket', bucket(), '--key', 'cp/one.bin');
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toMatch(/\(404\)|Not Found/);
      expectSuccess(await aws('s3', 'rm', `s3://${bucket()}/cp/sub/two.txt`));
      expectEmptyListing(await aws('s3', 'ls', `s3://${bucket()}/cp/`));
    });

    it('`aws s3 cp` sends a 20 MB file as a multipart upload and reads it back; s3api runs a multipart upload by hand', async () => {
      const body = randomBytes(20_000_000); // over the CLI's 8 MB multipart threshold: three parts
      await writeFile(local('big.bin'), body);
      expectSuccess(await aws('s3', 'cp', local('big.bin'), `s3://${bucket()}/multipart/big.bin`));
      expectSuccess(await aws('s3', 'cp', `s3://${bucket()}/multipart/big.bin`, local('big.down')));
      expect((await readFile(local('big.down'))).equals(body)).toBe(true);

      const created = JSON.parse(
        expectSuccess(
          await aws('s3api', 'create-multipart-upload', '--bucket', bucket(), '--key', 'multipart/by-hand'),
        ).stdout,
      ) as { UploadId: string };
      const upload = ['--bucket', bucket(), '--key', 'multipart/by-hand', '--upload-id', created.UploadId];
      await writeFile(local('part.txt'), 'the only part');
      const part = JSON.parse(
        expectSuccess(
          await aws('s3api', 'upload-part', ...upload, '--part-number', '1', '--body', local('part.txt')),
        ).stdout,
      ) as { ETag: string };
      const parts = JSON.stringify({ Parts: [{ PartNumber: 1, ETag: part.ETag }] });
      expectSuccess(await aws('s3api', 'complete-multipart-upload', ...upload, '--multipart-upload', parts));
      expectSuccess(await aws('s3', 'cp', `s3://${bucket()}/multipart/by-hand`, local('by-hand.down')));
      expect(await readFile(local('by-hand.down'), 'utf8')).toBe('the only part');

      const aborted = JSON.parse(
        expectSuccess(
          await aws('s3api', 'create-multipart-upload', '--bucket', bucket(), '--key', 'multipart/gone'),
        ).stdout,
      ) as { UploadId: string };
      const abort = ['--bucket', bucket(), '--key', 'multipart/gone', '--upload-id', aborted.UploadId];
      expectSuccess(await aws('s3api', 'abort-multipart-upload', ...abort));
      const again = await aws('s3api', 'abort-multipart-upload', ...abort);
      expect(again.stderr).toContain('NoSuchUpload');
      expectSuccess(await aws('s3', 'rm', `s3://${bucket()}/multipart/`, '--recursive'));
    });

    it('`aws s3 cp --recursive` copies a directory up and down; `aws s3 rm --recursive` empties it', async () => {
      const files: Record<string, Buffer> = {
        'a.txt': Buffer.from('alpha'),
        'hello world ü.txt': Buffer.from('unicode and a space'),
        'nested/b.bin': randomBytes(200_000),
        'nested/deeper/c.json': Buffer.from('{"c":true}'),
      };
      for (const [name, content] of Object.entries(files)) {
        await mkdir(path.dirname(local('tree', name)), { recursive: true });
        await writeFile(local('tree', name), content);
      }
      const up = expectSuccess(
        await aws('s3', 'cp', local('tree'), `s3://${bucket()}/tree/`, '--recursive', '--no-progress'),
      );
      expect(up.stdout.match(/^upload: /gm)).toHaveLength(Object.keys(files).length);

      const listed = parseLs(
        expectSuccess(await aws('s3', 'ls', `s3://${bucket()}/tree/`, '--recursive')).stdout,
      );
      expect(listed.objects.map((object) => object.name).sort()).toEqual(
        Object.keys(files)
          .map((name) => `tree/${name}`)
          .sort(),
      );

      expectSuccess(
        await aws('s3', 'cp', `s3://${bucket()}/tree/`, local('tree.down'), '--recursive', '--no-progress'),
      );
      for (const [name, content] of Object.entries(files))
        expect((await readFile(local('tree.down', name))).equals(content), name).toBe(true);

      const removed = expectSuccess(await aws('s3', 'rm', `s3://${bucket()}/tree/`, '--recursive'));
      expect(removed.stdout.match(/^delete: /gm)).toHaveLength(Object.keys(files).length);
      expectEmptyListing(await aws('s3', 'ls', `s3://${bucket()}/tree/`, '--recursive'));
    });

    it('`aws s3 sync` uploads a directory, and a second sync uploads nothing', async () => {
      const files = ['x.txt', 'y/z.txt', 'y/w.bin'];
      // Sync skips a file whose remote LastModified is not older than its local mtime. Azure
      // reports LastModified to the second only, so a file written in the same second as its
      // upload would look newer than its copy and go up again: the files are a minute old here.
      const aMinuteAgo = new Date(Date.now() - 60_000);
      for (const name of files) {
        await mkdir(path.dirname(local('sync', name)), { recursive: true });
        await writeFile(local('sync', name), randomBytes(1000 + name.length));
        await utimes(local('sync', name), aMinuteAgo, aMinuteAgo);
      }
      const first = expectSuccess(
        await aws('s3', 'sync', local('sync'), `s3://${bucket()}/sync/`, '--no-progress'),
      );
      expect(
        first.stdout
          .split('\n')
          .filter((line) => line.startsWith('upload: '))
          .map((line) => line.split(' to ')[1])
          .sort(),
      ).toEqual(files.map((name) => `s3://${bucket()}/sync/${name}`).sort());

      const second = expectSuccess(
        await aws('s3', 'sync', local('sync'), `s3://${bucket()}/sync/`, '--no-progress'),
      );
      expect(second.stdout.trim()).toBe('');

      // A changed file (another size) is the only one uploaded again.
      await writeFile(local('sync', 'x.txt'), 'changed');
      const third = expectSuccess(
        await aws('s3', 'sync', local('sync'), `s3://${bucket()}/sync/`, '--no-progress'),
      );
      expect(third.stdout.trim().split('\n')).toEqual([
        `upload: ${path.relative(cli.dir, local('sync', 'x.txt'))} to s3://${bucket()}/sync/x.txt`,
      ]);
      expectSuccess(await aws('s3', 'rm', `s3://${bucket()}/sync/`, '--recursive'));
    });

    it('`aws s3api` put-object, head-object, get-object (whole and --range), list-objects-v2, delete-objects', async () => {
      const body = randomBytes(400_000);
      await writeFile(local('api.bin'), body);
      const put = json(
        await aws(
          's3api',
          'put-object',
          '--bucket',
          bucket(),
          '--key',
          'api/object.bin',
          '--body',
          local('api.bin'),
          '--content-type',
          'application/x-cli',
          '--metadata',
          'origin=aws-cli',
          '--output',
          'json',
        ),
      );
      expect(put.ETag).toMatch(/^".+"$/);

      const head = json(
        await aws(
          's3api',
          'head-object',
          '--bucket',
          bucket(),
          '--key',
          'api/object.bin',
          '--output',
          'json',
        ),
      );
      expect(head).toMatchObject({
        ContentLength: body.length,
        ContentType: 'application/x-cli',
        ETag: put.ETag,
        Metadata: { origin: 'aws-cli' },
      });

      const got = json(
        await aws(
          's3api',
          'get-object',
          '--bucket',
          bucket(),
          '--key',
          'api/object.bin',
          local('api.down'),
          '--output',
          'json',
        ),
      );
      expect(got).toMatchObject({ ContentLength: body.length, ETag: put.ETag });
      expect((await readFile(local('api.down'))).equals(body)).toBe(true);

      const ranged = json(
        await aws(
          's3api',
          'get-object',
          '--bucket',
          bucket(),
          '--key',
          'api/object.bin',
          '--range',
          'bytes=1000-1999',
          local('api.range'),
          '--output',
          'json',
        ),
      );
      expect(ranged).toMatchObject({ ContentLength: 1000, ContentRange: `bytes 1000-1999/${body.length}` });
      expect((await readFile(local('api.range'))).equals(body.subarray(1000, 2000))).toBe(true);

      for (const name of ['a', 'b', 'c'])
        json(
          await aws(
            's3api',
            'put-object',
            '--bucket',
            bucket(),
            '--key',
            `api/more/${name}`,
            '--body',
            local('api.bin'),
            '--output',
            'json',
          ),
        );
      const listed = json(
        await aws('s3api', 'list-objects-v2', '--bucket', bucket(), '--prefix', 'api/', '--output', 'json'),
      );
      const keys = ['api/more/a', 'api/more/b', 'api/more/c', 'api/object.bin'];
      expect(listed.Contents.map((object: { Key: string }) => object.Key)).toEqual(keys);
      // One key per request: the CLI follows the bridge's continuation tokens to the end.
      const paged = json(
        await aws(
          's3api',
          'list-objects-v2',
          '--bucket',
          bucket(),
          '--prefix',
          'api/',
          '--page-size',
          '1',
          '--output',
          'json',
        ),
      );
      expect(paged.Contents.map((object: { Key: string }) => object.Key)).toEqual(keys);
      const delimited = json(
        await aws(
          's3api',
          'list-objects-v2',
          '--bucket',
          bucket(),
          '--prefix',
          'api/',
          '--delimiter',
          '/',
          '--output',
          'json',
        ),
      );
      expect(delimited.Contents.map((object: { Key: string }) => object.Key)).toEqual(['api/object.bin']);
      expect(delimited.CommonPrefixes).toEqual([{ Prefix: 'api/more/' }]);

      await writeFile(
        local('delete.json'),
        JSON.stringify({ Objects: keys.map((key) => ({ Key: key })), Quiet: false }),
      );
      const deleted = json(
        await aws(
          's3api',
          'delete-objects',
          '--bucket',
          bucket(),
          '--delete',
          `file://${local('delete.json')}`,
          '--output',
          'json',
        ),
      );
      expect(deleted.Deleted.map((object: { Key: string }) => object.Key).sort()).toEqual(keys);
      expect(deleted.Errors ?? []).toEqual([]);
      const empty = json(
        await aws('s3api', 'list-objects-v2', '--bucket', bucket(), '--prefix', 'api/', '--output', 'json'),
      );
      expect(empty.Contents).toBeUndefined();
    });

    it('`aws s3 presign` URLs serve the object to a plain HTTP GET, and stop when they expire', async () => {
      const body = randomBytes(50_000);
      await writeFile(local('shared.bin'), body);
      expectSuccess(await aws('s3', 'cp', local('shared.bin'), `s3://${bucket()}/presigned/shared.bin`));
      const target = `s3://${bucket()}/presigned/shared.bin`;

      const url = expectSuccess(await aws('s3', 'presign', target, '--expires-in', '60')).stdout.trim();
      expect(url.startsWith(`${bridge.endpoint}/${bucket()}/presigned/shared.bin?`)).toBe(true);
      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(Buffer.from(await response.arrayBuffer()).equals(body)).toBe(true);

      const shortLived = expectSuccess(await aws('s3', 'presign', target, '--expires-in', '1')).stdout.trim();
      await sleep(2000);
      const expired = await fetch(shortLived);
      expect(expired.status).toBe(403);
      expect(await expired.text()).toContain('<Code>AccessDenied</Code>');
      expectSuccess(await aws('s3', 'rm', target));
    });

    it('a READ key cannot upload: AccessDenied on stderr and a non-zero exit code', async () => {
      await writeFile(local('denied.txt'), 'nope');
      const denied = await cli.run(['s3', 'cp', local('denied.txt'), `s3://${bucket()}/denied.txt`], reader);
      expect(denied.code).not.toBe(0);
      expect(denied.stderr).toContain('AccessDenied');
      // The same key still reads.
      expectSuccess(await cli.run(['s3', 'ls', `s3://${bucket()}/`], reader));
    });
  });

  it('a SigV2 presigned URL (the CLI v1 default in us-east-1) is refused as S3 does in SigV4-only regions', async () => {
    await writeFile(path.join(cli.dir, 'v2.txt'), 'v2');
    expectSuccess(await aws('s3', 'cp', path.join(cli.dir, 'v2.txt'), `s3://${names.minio}/v2.txt`));
    const legacy = await createAwsCli(bridge.endpoint, writer, { presignWith: 'cli-default' });
    try {
      const url = expectSuccess(
        await legacy.run(['s3', 'presign', `s3://${names.minio}/v2.txt`]),
      ).stdout.trim();
      if (!url.includes('AWSAccessKeyId=')) return; // a CLI that presigns with SigV4 anyway (version 2)
      const response = await fetch(url);
      expect(response.status).toBe(400);
      const xml = await response.text();
      expect(xml).toContain('<Code>InvalidRequest</Code>');
      expect(xml).toContain('AWS4-HMAC-SHA256');
    } finally {
      await legacy.close();
    }
  });

  it('a wrong secret is refused with SignatureDoesNotMatch', async () => {
    const { accessKeyId } = reader;
    const refused = await cli.run(['s3', 'ls'], { accessKeyId, secretAccessKey: 'x'.repeat(40) });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('SignatureDoesNotMatch');
  });
});
