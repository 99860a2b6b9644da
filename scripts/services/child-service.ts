/**
 * A long-running child process (database, Temporal, emulator, or one of
 * Skybridge's own processes) with its output in a log file, a readiness probe
 * and a clean stop.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ChildServiceOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  uid?: number;
  gid?: number;
  logFile: string;
  /** Resolves true once the service answers; polled until `readyTimeoutMs`. */
  isReady: () => Promise<boolean>;
  readyTimeoutMs?: number;
  /** The signal that asks this program for a fast, clean shutdown. */
  stopSignal?: NodeJS.Signals;
}

export interface ChildService {
  name: string;
  pid: number;
  logFile: string;
  /** Settles when the process exits, for whatever reason. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

const STOP_GRACE_MS = 20_000;

export async function startChildService(options: ChildServiceOptions): Promise<ChildService> {
  mkdirSync(path.dirname(options.logFile), { recursive: true });
  const log = createWriteStream(options.logFile, { flags: 'a' });
  await new Promise((resolve) => log.once('open', resolve));
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    uid: options.uid,
    gid: options.gid,
    stdio: ['ignore', log, log],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  const service: ChildService = {
    name: options.name,
    pid: child.pid ?? -1,
    logFile: options.logFile,
    exited,
    stop: () => stopChild(child, exited, options.stopSignal ?? 'SIGTERM'),
  };
  try {
    await waitUntilReady(options, exited);
  } catch (error) {
    await service.stop();
    throw error;
  }
  return service;
}

async function waitUntilReady(options: ChildServiceOptions, exited: ChildService['exited']): Promise<void> {
  const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
  let exit: Awaited<ChildService['exited']> | undefined;
  exited.then((result) => {
    exit = result;
  });
  while (Date.now() < deadline) {
    if (exit) {
      throw new Error(
        `${options.name} exited during start-up (code ${exit.code}, signal ${exit.signal}); see ${options.logFile}${await logTail(options.logFile)}`,
      );
    }
    if (await options.isReady().catch(() => false)) return;
    await sleep(250);
  }
  throw new Error(
    `${options.name} was not ready within ${options.readyTimeoutMs ?? 120_000} ms; see ${options.logFile}`,
  );
}

async function stopChild(
  child: ChildProcess,
  exited: ChildService['exited'],
  signal: NodeJS.Signals,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

/** True when `url` answers with a 2xx status. */
export async function httpOk(url: string): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await response.body?.cancel();
  return response.ok;
}

/** The end of a service's log, so a start-up failure says why even when the log is gone by the time anyone looks. */
async function logTail(logFile: string, lines = 15): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  const tail = text.trimEnd().split('\n').slice(-lines).join('\n');
  return tail ? `; its log ends with:\n${tail}` : '';
}
