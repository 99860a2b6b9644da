/** What a command may touch of its process: passed in, so that only cli/main.ts reads `process`. */
export interface CliContext {
  env: Readonly<Record<string, string | undefined>>;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream;
  /** Calls `listener` on Ctrl-C (instead of exiting) until the returned function is called. */
  onInterrupt(listener: () => void): () => void;
}
