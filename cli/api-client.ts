/** JSON over HTTP to the Skybridge API, with its problem answers turned into ApiErrors. */
import { ApiError, CliError } from './errors.ts';

export interface ApiConnection {
  apiUrl: string;
  token?: string;
}

export interface ApiClient {
  request<T>(method: string, path: string, options?: { body?: unknown; signal?: AbortSignal }): Promise<T>;
}

export function createApiClient(connection: ApiConnection): ApiClient {
  const base = connection.apiUrl.replace(/\/+$/, '');
  return {
    async request<T>(method: string, path: string, options: { body?: unknown; signal?: AbortSignal } = {}) {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (connection.token) headers.authorization = `Bearer ${connection.token}`;
      if (options.body !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(`${base}${path}`, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: options.signal,
      }).catch((error: unknown) => {
        if (options.signal?.aborted) throw error;
        throw new CliError(`cannot reach the API at ${base}: ${networkCause(error)}`);
      });
      const text = await response.text();
      if (!response.ok) throw toApiError(response.status, text);
      return (text ? parseJson(text, `${method} ${path}`) : undefined) as T;
    },
  };
}

/** fetch hides the reason (ECONNREFUSED, ENOTFOUND, ...) in its `cause`. */
function networkCause(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new CliError(`the API answered ${what} with something that is not JSON: ${text.slice(0, 200)}`);
  }
}

interface ProblemBody {
  code?: string;
  title?: string;
  detail?: string;
  errors?: { path: string; message: string }[];
}

function toApiError(status: number, text: string): ApiError {
  let problem: ProblemBody = {};
  try {
    problem = JSON.parse(text) as ProblemBody;
  } catch {
    // Not a problem body (a proxy's error page, say): its text is the message.
  }
  const detail = problem.detail ?? problem.title ?? (text.trim().slice(0, 200) || 'no details');
  return new ApiError(status, problem.code ?? 'HTTP_ERROR', detail, problem.errors ?? []);
}
