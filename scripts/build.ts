/**
 * `npm run build`: compiles the platform's processes (api/, bridge/, workers/ and what they
 * import) to JavaScript in .build/, which `npm start` and the Docker image run. Node 24 runs the
 * .ts sources as they are (`npm run bridge` does), but its type stripper, SWC compiled to
 * WebAssembly, then stays loaded in the process: about 35 MB of RSS in each of the three
 * (README, Benchmarks). Types are not checked here (`noCheck`, about 3 s); `npm run typecheck` does.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from './tools.ts';

export const buildDir = path.join(projectRoot, '.build');

/** The compiled file of a source entry point: `bridge/main.ts` → `<root>/.build/bridge/main.js`. */
export function builtEntry(sourceEntry: string): string {
  return path.join(buildDir, sourceEntry.replace(/\.ts$/, '.js'));
}

/** Brings .build/ up to date with the sources (tsc rewrites only what changed). */
export async function buildRuntime(): Promise<void> {
  const tsc = path.join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    await promisify(execFile)(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: projectRoot });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`the build (tsc -p tsconfig.build.json) failed:\n${stdout}${stderr}`);
  }
}

if (import.meta.main) {
  await buildRuntime();
  console.log(`built the platform's processes into ${path.relative(process.cwd(), buildDir) || '.'}`);
}
