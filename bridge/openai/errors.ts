/** OpenAI-style error bodies, as the `openai` SDK parses them. */
import type { ServerResponse } from 'node:http';

export function sendOpenAiError(
  res: ServerResponse,
  status: number,
  error: { message: string; type: string; code: string | null; param?: string | null },
): void {
  const body = JSON.stringify({
    error: { message: error.message, type: error.type, param: error.param ?? null, code: error.code },
  });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
