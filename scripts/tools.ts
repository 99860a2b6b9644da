/**
 * The Go-built tools Skybridge runs beside itself, pinned, found on PATH or
 * installed once into the project-local .tools/bin with `go install`.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const projectRoot = path.resolve(import.meta.dirname, '..');
export const toolsBinDir = path.join(projectRoot, '.tools', 'bin');

interface GoTool {
  module: string;
  version: string;
  /** Oldest Go release that builds this version. */
  minimumGo: [number, number];
  /** Whether a binary of the same name on PATH may be used instead. */
  acceptFromPath: boolean;
  purpose: string;
  /** Built only when something asks for it (a benchmark), never by `npm run tools` alone. */
  onDemand?: boolean;
}

export const goTools = {
  temporal: {
    module: 'github.com/temporalio/cli/cmd/temporal',
    // The last tag `go install` accepts; later ones carry a `replace` directive.
    version: 'v1.5.1',
    minimumGo: [1, 25],
    acceptFromPath: true,
    purpose: 'the Temporal dev server (used when TEMPORAL_ADDRESS is not set)',
  },
  minio: {
    module: 'github.com/minio/minio',
    // MinIO publishes no semver tags; this is the module proxy's pseudo-version of 2026-02-12.
    version: 'v0.0.0-20260212201848-7aac2a2c5b7c',
    minimumGo: [1, 24],
    acceptFromPath: false,
    purpose: 'the S3 backend the tests run against',
  },
  'fake-gcs-server': {
    module: 'github.com/fsouza/fake-gcs-server',
    version: 'v1.56.1',
    minimumGo: [1, 24],
    acceptFromPath: false,
    purpose: 'the GCS backend the tests run against',
  },
  rclone: {
    module: 'github.com/rclone/rclone',
    version: 'v1.76.0',
    minimumGo: [1, 26],
    acceptFromPath: false,
    purpose: 'the baseline `npm run bench:migrate` compares migrations against',
    onDemand: true,
  },
} satisfies Record<string, GoTool>;

export type GoToolName = keyof typeof goTools;

/** Path of the tool's binary, installing it first if needed. */
export async function ensureGoTool(
  name: GoToolName,
  report: (line: string) => void = console.error,
  binDir = toolsBinDir,
): Promise<string> {
  const tool: GoTool = goTools[name];
  const local = path.join(binDir, name);
  const stamp = `${local}.version`;
  if (existsSync(local) && (await readFile(stamp, 'utf8').catch(() => '')).trim() === tool.version)
    return local;
  if (tool.acceptFromPath) {
    const onPath = await which(name);
    if (onPath) return onPath;
  }
  await assertGoAvailable(name, tool);
  report(`skybridge: building ${name} ${tool.version} with go install (once; a few minutes)...`);
  await mkdir(binDir, { recursive: true });
  await run('go', ['install', `${tool.module}@${tool.version}`], {
    cwd: projectRoot,
    env: { ...process.env, GOBIN: binDir, GOFLAGS: '-buildvcs=false', CGO_ENABLED: '0' },
    maxBuffer: 64 * 1024 * 1024,
  });
  await writeFile(stamp, `${tool.version}\n`);
  return local;
}

async function which(name: string): Promise<string | undefined> {
  try {
    const { stdout } = await run('sh', ['-c', `command -v ${name}`]);
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

async function assertGoAvailable(name: string, tool: GoTool): Promise<void> {
  const [major, minor] = tool.minimumGo;
  const needed = `Go ${major}.${minor} or newer`;
  let version: string;
  try {
    version = (await run('go', ['env', 'GOVERSION'])).stdout.trim();
  } catch {
    throw new Error(
      `${name} is needed for ${tool.purpose}, and neither it nor Go is installed.\n` +
        `Install ${needed} (https://go.dev/doc/install) and run this again, or install ${name} yourself and put it on PATH` +
        (name === 'temporal'
          ? ' (https://docs.temporal.io/cli), or point TEMPORAL_ADDRESS at an existing Temporal server.'
          : '.'),
    );
  }
  const match = /^go(\d+)\.(\d+)/.exec(version);
  const [haveMajor, haveMinor] = [Number(match?.[1] ?? 0), Number(match?.[2] ?? 0)];
  if (haveMajor < major || (haveMajor === major && haveMinor < minor)) {
    throw new Error(
      `${name} ${tool.version} needs ${needed} to build; this machine has ${version}. Upgrade Go and retry.`,
    );
  }
}
