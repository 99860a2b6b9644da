/**
 * The real AWS CLI (`aws`, version 1 or 2) as a child process, in an isolated
 * environment: its own empty credentials file, a config file that only asks
 * for path-style addressing and SigV4, no instance
 * metadata, no pager, and nothing inherited from the developer's shell but PATH.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface AwsCliResult {
  /** The exit code (0 on success). */
  code: number;
  stdout: string;
  stderr: string;
}

export interface AwsCli {
  /** A temporary folder of this CLI's own (its HOME); callers may put files in it. */
  dir: string;
  /** Runs `aws <args> --endpoint-url <endpoint>`; never rejects on a non-zero exit. */
  run(args: string[], credentials?: { accessKeyId: string; secretAccessKey: string }): Promise<AwsCliResult>;
  close(): Promise<void>;
}

/**
 * The CLI's own multipart settings (8 MB threshold and parts). `signature_version
 * = s3v4` makes `aws s3 presign` sign with SigV4: version 1 of the CLI otherwise
 * presigns in us-east-1 with SigV2, which the bridge refuses, as S3 does in its
 * SigV4-only regions.
 */
const configFile = (presignWith: 'sigv4' | 'cli-default') =>
  `[default]\ns3 =\n    addressing_style = path\n${
    presignWith === 'sigv4' ? '    signature_version = s3v4\n' : ''
  }`;

/** Whether `aws` runs on this machine (CI installs Debian's `awscli` when it is missing). */
export function awsCliVersion(): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('aws', ['--version'], { env: baseEnv(tmpdir()), timeout: 30_000 }, (error, stdout, stderr) =>
      resolve(error ? undefined : `${stdout}${stderr}`.trim()),
    );
  });
}

function baseEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8' };
  // A pyenv-installed CLI finds its interpreter through these.
  for (const name of ['PYENV_ROOT', 'PYENV_VERSION']) if (process.env[name]) env[name] = process.env[name];
  return env;
}

export async function createAwsCli(
  endpoint: string,
  credentials: { accessKeyId: string; secretAccessKey: string },
  options: { presignWith?: 'sigv4' | 'cli-default' } = {},
): Promise<AwsCli> {
  const dir = await mkdtemp(path.join(tmpdir(), 'skybridge-aws-cli-'));
  const configPath = path.join(dir, 'config');
  const credentialsFile = path.join(dir, 'credentials');
  await writeFile(configPath, configFile(options.presignWith ?? 'sigv4'));
  await writeFile(credentialsFile, '');
  const envFor = (using: { accessKeyId: string; secretAccessKey: string }): NodeJS.ProcessEnv => ({
    ...baseEnv(dir),
    AWS_ACCESS_KEY_ID: using.accessKeyId,
    AWS_SECRET_ACCESS_KEY: using.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: configPath,
    AWS_SHARED_CREDENTIALS_FILE: credentialsFile,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
    // One attempt: a failure shows the bridge's first answer instead of a retried one.
    // (AWS_CLI_AUTO_PROMPT is for version 2: it must never wait on a prompt.)
    AWS_CLI_AUTO_PROMPT: 'off',
    AWS_MAX_ATTEMPTS: '1',
  });
  return {
    dir,
    run(args, using = credentials) {
      return new Promise((resolve) => {
        execFile(
          'aws',
          [...args, '--endpoint-url', endpoint],
          { env: envFor(using), cwd: dir, timeout: 60_000, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
          (error, stdout, stderr) => {
            const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
            resolve({ code, stdout, stderr });
          },
        );
      });
    },
    async close() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}
