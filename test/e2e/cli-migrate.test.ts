/**
 * The `skybridge` CLI (bin/skybridge) as an operator runs it, a real child
 * process against a test stack: login and its 0600 credentials file, a dry
 * run that writes nothing, a real MinIO → Azurite migration watched to the
 * end, pause / resume / cancel / status on a running job, Ctrl-C that stops
 * only the watching, and the errors an operator meets.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createObjectStore, type ObjectStore } from '../../providers/storage/index.ts';
import { api, login, services, startTestStack, type TestStack } from '../helpers/context.ts';
import {
  createAzuriteContainer,
  minioBucketRegistration,
  uniqueBucketName,
} from '../helpers/emulator-buckets.ts';

/** A loopback port that nothing listens on: one the system just handed out and took back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const shellQuote = (argument: string) => `'${argument.replaceAll("'", "'\\''")}'`;

const eraseToEndOfLine = '\u001b[K';

const cliPath = fileURLToPath(new URL('../../bin/skybridge', import.meta.url));

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface RunningCli {
  child: ChildProcess;
  output: CliResult;
  exited: Promise<CliResult>;
}

interface RegisteredBucket {
  id: string;
  name: string;
  store: ObjectStore;
}

describe('skybridge CLI: login and migrate', () => {
  let stack: TestStack;
  let token: string;
  let emptyConfigHome: string;
  const temporaryDirectories: string[] = [];
  const call = (method: string, path: string, body?: unknown) =>
    api(stack.baseUrl, method, path, { token, body });

  beforeAll(async () => {
    stack = await startTestStack();
    token = await login(stack.baseUrl, stack.admin);
    emptyConfigHome = await temporaryDirectory();
  });
  afterAll(async () => {
    await stack?.close();
    for (const directory of temporaryDirectories) await rm(directory, { recursive: true, force: true });
  });

  async function temporaryDirectory(): Promise<string> {
    const directory = await mkdtemp(join(tmpdir(), 'skybridge-cli-'));
    temporaryDirectories.push(directory);
    return directory;
  }

  /**
   * The CLI with the stack's URL and token in its environment unless `env` says otherwise (undefined unsets).
   * `terminal`: on a pseudo-terminal (util-linux `script`), its standard input left open for the test to type.
   */
  function startCli(
    args: string[],
    options: { env?: Record<string, string | undefined>; input?: string; terminal?: boolean } = {},
  ): RunningCli {
    const inherited = Object.entries(process.env).filter(([name]) => !name.startsWith('SKYBRIDGE_'));
    const env: Record<string, string | undefined> = {
      ...Object.fromEntries(inherited),
      XDG_CONFIG_HOME: emptyConfigHome,
      SKYBRIDGE_API_URL: stack.baseUrl,
      SKYBRIDGE_TOKEN: token,
      ...options.env,
    };
    const child = options.terminal
      ? spawn('script', ['-qefc', [cliPath, ...args].map(shellQuote).join(' '), '/dev/null'], { env })
      : spawn(cliPath, args, { env });
    const output: CliResult = { code: null, stdout: '', stderr: '' };
    child.stdout?.on('data', (chunk: Buffer) => {
      output.stdout += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output.stderr += chunk.toString();
    });
    if (!options.terminal) child.stdin?.end(options.input ?? '');
    const exited = new Promise<CliResult>((resolve) => {
      child.on('close', (code) => {
        child.stdin?.end();
        output.code = code;
        resolve(output);
      });
    });
    return { child, output, exited };
  }

  const runCli = (args: string[], options?: Parameters<typeof startCli>[1]) => startCli(args, options).exited;

  async function waitForOutput(cli: RunningCli, pattern: RegExp, seconds = 60): Promise<RegExpMatchArray> {
    for (let attempt = 0; attempt < seconds * 10; attempt++) {
      const match = cli.output.stdout.match(pattern);
      if (match) return match;
      if (cli.output.code !== null) break;
      await sleep(100);
    }
    throw new Error(`no ${pattern} in the CLI's output:\n${cli.output.stdout}\n${cli.output.stderr}`);
  }

  async function registerBucket(registration: Record<string, unknown>): Promise<string> {
    const created = await call('POST', '/bucket', registration);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    for (let attempt = 0; attempt < 100; attempt++) {
      const status = (await call('GET', `/bucket/${created.body.id}`)).body.status;
      if (status === 'VALID') return created.body.id;
      await sleep(100);
    }
    throw new Error(`bucket ${created.body.id} was not validated`);
  }

  async function minioBucket(overrides: Record<string, unknown> = {}): Promise<RegisteredBucket> {
    const registration = await minioBucketRegistration(overrides);
    const { minio } = services();
    const store = await createObjectStore({
      provider: 'S3_COMPATIBLE',
      bucketName: registration.bucketName as string,
      endpoint: minio.endpoint,
      forcePathStyle: true,
      credentials: {
        kind: 'S3_ACCESS_KEY',
        accessKeyId: minio.accessKeyId,
        secretAccessKey: minio.secretAccessKey,
      },
    });
    return { id: await registerBucket(registration), name: registration.name as string, store };
  }

  async function azureBucket(): Promise<RegisteredBucket> {
    const { connectionString } = services().azurite;
    const bucketName = await createAzuriteContainer();
    const name = uniqueBucketName('azure');
    const id = await registerBucket({
      name,
      provider: 'AZURE',
      bucketName,
      credentials: { type: 'CONNECTION_STRING', connectionString },
    });
    const store = await createObjectStore({
      provider: 'AZURE',
      bucketName,
      credentials: { kind: 'AZURE_CONNECTION_STRING', connectionString },
    });
    return { id, name, store };
  }

  /** `count` objects of `size` random bytes under `prefix`, written to the store. */
  async function seed(store: ObjectStore, prefix: string, count: number, size: number) {
    const objects = Array.from({ length: count }, (_, index) => ({
      key: `${prefix}object-${String(index).padStart(3, '0')}.bin`,
      body: randomBytes(size),
    }));
    for (const { key, body } of objects) await store.put(key, body, { contentLength: body.length });
    return objects;
  }

  /** Every object of the store: key → base64 body. */
  async function snapshot(store: ObjectStore): Promise<Map<string, string>> {
    const objects = new Map<string, string>();
    let continuationToken: string | undefined;
    do {
      const page = await store.list({ continuationToken });
      for (const { key } of page.objects) {
        const { body } = await store.get(key);
        objects.set(key, Buffer.concat(await Readable.from(body).toArray()).toString('base64'));
      }
      continuationToken = page.nextContinuationToken;
    } while (continuationToken);
    return objects;
  }

  it('logs in with the password from the environment or a pipe, keeps the token in a 0600 file, and uses it', async () => {
    const configHome = await temporaryDirectory();
    const { email, password } = stack.admin;
    const env = { XDG_CONFIG_HOME: configHome, SKYBRIDGE_API_URL: undefined, SKYBRIDGE_TOKEN: undefined };

    const fromEnvironment = await runCli(['login', '--api', stack.baseUrl, '--email', email], {
      env: { ...env, SKYBRIDGE_PASSWORD: password },
    });
    expect(fromEnvironment.code, fromEnvironment.stderr).toBe(0);
    expect(fromEnvironment.stdout).toContain(`Logged in to ${stack.baseUrl} as ${email}`);
    const path = join(configHome, 'skybridge', 'credentials.json');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(configHome, 'skybridge'))).mode & 0o777).toBe(0o700);
    const stored = JSON.parse(await readFile(path, 'utf8'));
    expect(stored).toMatchObject({ apiUrl: stack.baseUrl, email });
    expect(fromEnvironment.stdout + fromEnvironment.stderr).not.toContain(stored.token);
    expect(fromEnvironment.stdout + fromEnvironment.stderr).not.toContain(password);
    expect((await api(stack.baseUrl, 'GET', '/workspace', { token: stored.token })).status).toBe(200);

    const piped = await runCli(['login', '--api', stack.baseUrl, '--email', email], {
      env,
      input: `${password}\n`,
    });
    expect(piped.code, piped.stderr).toBe(0);
    const replaced = JSON.parse(await readFile(path, 'utf8'));
    expect((await stat(path)).mode & 0o777).toBe(0o600);

    // With only the stored login, a command reaches the API as the admin: a job of no one is a 404 from it.
    const unknownJob = `migration-${randomUUID()}`;
    const status = await runCli(['migrate', 'status', unknownJob], { env });
    expect(status.code).toBe(3);
    expect(status.stderr).toContain('404 NOT_FOUND');
    expect(status.stderr).not.toContain(replaced.token);

    const wrongPassword = await runCli(['login', '--api', stack.baseUrl, '--email', email], {
      env: { ...env, SKYBRIDGE_PASSWORD: 'not-the-password' },
    });
    expect(wrongPassword.code).toBe(3);
    expect(wrongPassword.stderr).toMatch(/401 UNAUTHENTICATED: Wrong email or password/);
    expect(wrongPassword.stderr).not.toContain('not-the-password');
    expect(JSON.parse(await readFile(path, 'utf8')).token).toBe(replaced.token);
  });

  it('prints dry run plans and writes nothing, refuses a sync beyond --max-deletes, then copies the plan MinIO → Azurite with progress lines', async () => {
    const source = await minioBucket();
    const destination = await azureBucket();
    const objects = await seed(source.store, 'src/', 6, 4096);
    await destination.store.put('other/unrelated.txt', Buffer.from('not in the plan'), { contentLength: 15 });
    await destination.store.put('dst/only-here.bin', Buffer.from('not in the source'), { contentLength: 17 });
    const before = { source: await snapshot(source.store), destination: await snapshot(destination.store) };
    const route = ['--from', `${source.name}/src/`, '--to', `${destination.name}/dst/`];

    const dryRun = await runCli(['migrate', ...route, '--dry-run']);
    expect(dryRun.code, dryRun.stdout + dryRun.stderr).toBe(0);
    expect(dryRun.stdout).toMatch(/Planning \(dry run\) .*: job migration-/);
    expect(dryRun.stdout).toMatch(
      /Plan \(copy\):\n {2}copy +6 objects \(24\.6 kB\) +0 native, 6 streamed\n {2}skip +0 objects/,
    );
    expect(dryRun.stdout).toContain('Dry run done: nothing was written');
    expect(await snapshot(source.store)).toEqual(before.source);
    expect(await snapshot(destination.store)).toEqual(before.destination);

    const filters = ['--include', '*.bin', '--exclude', 'object-000.bin'];
    const syncPlan = await runCli(['migrate', ...route, '--mode', 'sync', ...filters, '--dry-run']);
    expect(syncPlan.code, syncPlan.stdout + syncPlan.stderr).toBe(0);
    expect(syncPlan.stdout).toMatch(/Plan \(sync\):\n {2}copy +5 objects \(20\.5 kB\)/);
    expect(syncPlan.stdout).toMatch(/\n {2}delete +1 object \(17 B\) +only at the destination\n/);
    const guarded = await runCli(['migrate', ...route, '--mode', 'sync', ...filters, '--max-deletes', '0']);
    expect(guarded.code, guarded.stdout + guarded.stderr).toBe(1);
    expect(guarded.stdout).toMatch(/Failed: MaxDeletesExceeded: sync would delete 1 .*maxDeletes \(0\)/);
    expect(await snapshot(source.store)).toEqual(before.source);
    expect(await snapshot(destination.store)).toEqual(before.destination);

    // 8 KiB/s through the worker: about 3 s of copying, long enough to be seen.
    const copy = await runCli(['migrate', ...route, '--rate', '8192', '--concurrency', '2']);
    expect(copy.code, copy.stdout + copy.stderr).toBe(0);
    expect(copy.stdout).toMatch(/Started copy .*src\/ → .*dst\/: job migration-/);
    expect(copy.stdout).toMatch(/ {2}copy +6 objects \(24\.6 kB\)/);
    expect(copy.stdout).toMatch(/^COPYING +\[[#-]{20}\] +\d+% {2}\d+\/6 objects {2}.*B\/s {2}ETA /m);
    expect(copy.stdout).toMatch(/^DONE +\[#{20}\] 100% {2}6\/6 objects {2}24\.6 kB\/24\.6 kB/m);
    expect(copy.stdout).toContain('Done: copied 6 objects (24.6 kB) (0 native, 6 streamed); skipped 0');
    const copied = await snapshot(destination.store);
    for (const { key, body } of objects)
      expect(copied.get(`dst/${key.slice(4)}`), key).toBe(body.toString('base64'));
    expect(copied.get('other/unrelated.txt')).toBe(before.destination.get('other/unrelated.txt'));
    expect(copied.get('dst/only-here.bin')).toBe(before.destination.get('dst/only-here.bin'));
  });

  it('on a terminal, asks for the password without echo and redraws a single progress line', async () => {
    const configHome = await temporaryDirectory();
    const { email, password } = stack.admin;
    const login = startCli(['login', '--api', stack.baseUrl, '--email', email], {
      terminal: true,
      env: { XDG_CONFIG_HOME: configHome, SKYBRIDGE_API_URL: undefined, SKYBRIDGE_TOKEN: undefined },
    });
    await waitForOutput(login, /Password:/);
    login.child.stdin?.write(`${password}\r`);
    const loggedIn = await login.exited;
    expect(loggedIn.code, loggedIn.stdout).toBe(0);
    expect(loggedIn.stdout).toContain(`Logged in to ${stack.baseUrl} as ${email}`);
    expect(loggedIn.stdout).not.toContain(password);

    const source = await minioBucket();
    const destination = await azureBucket();
    await seed(source.store, '', 4, 4096);
    const migration = startCli(
      ['migrate', '--from', source.name, '--to', destination.name, '--rate', '8192'],
      {
        terminal: true,
        env: { XDG_CONFIG_HOME: configHome, SKYBRIDGE_API_URL: undefined, SKYBRIDGE_TOKEN: undefined },
      },
    );
    const watched = await migration.exited;
    expect(watched.code, watched.stdout).toBe(0);
    // Each redraw: carriage return, the line, erase to its end; the last one stays, followed by the outcome.
    const drawn = watched.stdout
      .split(eraseToEndOfLine)
      .slice(0, -1)
      .map((part) => part.slice(part.lastIndexOf('\r') + 1));
    expect(drawn.length).toBeGreaterThanOrEqual(3);
    expect(drawn).toContainEqual(expect.stringMatching(/^COPYING +\[[#-]{20}\] .*\/4 objects/));
    expect(drawn.at(-1)).toMatch(/^DONE +\[#{20}\] 100% {2}4\/4 objects/);
    expect(watched.stdout.split(eraseToEndOfLine).at(-1)).toMatch(/^\r?\nDone: copied 4 objects/);
  });

  it('pauses, resumes and cancels a running job; Ctrl-C stops only the watching', async () => {
    const source = await minioBucket();
    const destination = await azureBucket();
    await seed(source.store, '', 40, 4096);
    // 2 objects a second: the job runs for about 20 s unless steered.
    const watcher = startCli([
      'migrate',
      '--from',
      source.name,
      '--to',
      destination.name,
      '--rate',
      '8192',
      '--concurrency',
      '1',
    ]);
    const [, jobId] = await waitForOutput(watcher, /: job (migration-\S+)/);
    await waitForOutput(watcher, /^COPYING /m);

    const paused = await runCli(['migrate', 'pause', jobId!, '--reason', 'maintenance window']);
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.stdout).toContain(`${jobId} paused`);
    expect(paused.stdout).toContain('PAUSED (maintenance window)');
    await waitForOutput(watcher, /^PAUSED \(maintenance window\) +\[/m);
    const status = await runCli(['migrate', 'status', jobId!, '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      id: jobId,
      status: 'RUNNING',
      state: { phase: 'PAUSED', pausedReason: 'maintenance window' },
    });

    watcher.child.kill('SIGINT');
    const interrupted = await watcher.exited;
    expect(interrupted.code).toBe(130);
    expect(interrupted.stderr).toContain(`Stopped watching; ${jobId} keeps running.`);
    expect(interrupted.stderr).toContain(`skybridge migrate watch ${jobId}`);
    expect((await call('GET', `/jobs/${jobId}`)).body).toMatchObject({
      status: 'RUNNING',
      state: { phase: 'PAUSED' },
    });

    const resumed = await runCli(['migrate', 'resume', jobId!]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain(`${jobId} resumed`);
    const cancelled = await runCli(['migrate', 'cancel', jobId!]);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toContain(`${jobId} cancel requested`);

    const watchedAgain = await runCli(['migrate', 'watch', jobId!]);
    expect(watchedAgain.code).toBe(1);
    expect(watchedAgain.stdout).toMatch(/Cancelled: copied \d+ objects? .* before stopping/);
    const job = (await call('GET', `/jobs/${jobId}`)).body;
    expect(job.state.phase).toBe('CANCELLED');
    expect(job.state.done.objects).toBeLessThan(40);
    expect((await snapshot(destination.store)).size).toBe(job.state.done.objects);
    const summary = await runCli(['migrate', 'status', jobId!]);
    expect(summary.code, summary.stderr).toBe(0);
    expect(summary.stdout).toMatch(
      /: COMPLETED, started .*, ended .*\ncopy, concurrency 1, rate limit 8192 B\/s\n/,
    );
    expect(summary.stdout).toContain(`Cancelled: copied ${job.state.done.objects} object`);

    const refused = await runCli(['migrate', 'resume', jobId!]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/409 CONFLICT: The job did not accept the change/);
  });

  it('finds a bucket name in several workspaces only with --workspace, and detaches on request', async () => {
    const workspace = await call('POST', '/workspace', { name: `second-${randomUUID().slice(0, 8)}` });
    expect(workspace.status, JSON.stringify(workspace.body)).toBe(201);
    const first = await minioBucket();
    await minioBucket({ name: first.name, workspaceId: workspace.body.id });
    const destination = await azureBucket();
    const route = ['--from', first.name, '--to', destination.name, '--dry-run'];

    const ambiguous = await runCli(['migrate', ...route]);
    expect(ambiguous.code).toBe(3);
    expect(ambiguous.stderr).toContain(`a bucket named "${first.name}" is in several workspaces`);
    expect(ambiguous.stderr).toContain('--workspace');

    const defaultWorkspace = (await call('GET', '/workspace')).body.find(
      (candidate: { isDefault: boolean }) => candidate.isDefault,
    );
    const chosen = await runCli(['migrate', ...route, '--workspace', defaultWorkspace.name, '--detach']);
    expect(chosen.code, chosen.stdout + chosen.stderr).toBe(0);
    const jobId = chosen.stdout.match(/^(migration-[0-9a-f-]{36})\n$/)?.[1];
    expect(jobId, chosen.stdout).toBeDefined();
    const watched = await runCli(['migrate', 'watch', jobId!]);
    expect(watched.code, watched.stdout + watched.stderr).toBe(0);
    expect(watched.stdout).toContain('Dry run done: nothing was written');
    const planned = (await call('GET', `/jobs/${jobId}`)).body;
    expect(planned.state).toMatchObject({ phase: 'DONE', dryRun: true });
  });

  it('explains unknown buckets, bad flags, bad tokens and a missing login, with non-zero exit codes', async () => {
    const source = await minioBucket();
    const unknownBucket = await runCli(['migrate', '--from', 'no-such-bucket/x/', '--to', source.name]);
    expect(unknownBucket.code).toBe(3);
    expect(unknownBucket.stderr).toMatch(/no bucket named "no-such-bucket" \(registered: .*\)/);
    expect(unknownBucket.stderr).toContain(source.name);

    const badMode = await runCli(['migrate', '--from', source.name, '--to', 'b', '--mode', 'shuffle']);
    expect(badMode.code).toBe(2);
    expect(badMode.stderr).toContain('--mode must be one of copy, move, sync, not "shuffle"');
    const badConcurrency = await runCli(['migrate', '--from', 'a', '--to', 'b', '--concurrency', '1000']);
    expect(badConcurrency.code).toBe(2);
    expect(badConcurrency.stderr).toContain('--concurrency must be a whole number from 1 to 64');
    const unknownFlag = await runCli(['migrate', '--from', 'a', '--to', 'b', '--colour']);
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toContain("Unknown option '--colour'");
    expect(unknownFlag.stderr).toContain('skybridge migrate --help');
    const missingDestination = await runCli(['migrate', '--from', 'a']);
    expect(missingDestination.code).toBe(2);
    expect(missingDestination.stderr).toContain('--to is required');
    const unknownCommand = await runCli(['migrat']);
    expect(unknownCommand.code).toBe(2);
    expect(unknownCommand.stderr).toContain('unknown command "migrat"');

    const badToken = await runCli(['migrate', '--from', source.name, '--to', 'b'], {
      env: { SKYBRIDGE_TOKEN: 'forged-token-value' },
    });
    expect(badToken.code).toBe(3);
    expect(badToken.stderr).toMatch(/the API answered 401 UNAUTHENTICATED/);
    expect(badToken.stderr).toContain('skybridge login');
    expect(badToken.stderr).not.toContain('forged-token-value');

    const notLoggedIn = await runCli(['migrate', 'status', `migration-${randomUUID()}`], {
      env: { SKYBRIDGE_API_URL: undefined, SKYBRIDGE_TOKEN: undefined },
    });
    expect(notLoggedIn.code).toBe(3);
    expect(notLoggedIn.stderr).toContain('not logged in: run "skybridge login');

    const closedUrl = `http://127.0.0.1:${await closedPort()}`;
    const unreachable = await runCli(['migrate', 'status', `migration-${randomUUID()}`], {
      env: { SKYBRIDGE_API_URL: closedUrl },
    });
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toContain(`cannot reach the API at ${closedUrl}: ECONNREFUSED`);
  });
});
