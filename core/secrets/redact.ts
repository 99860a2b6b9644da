/** What a secret looks like in logs, errors and API responses: the same censor the logger uses. */
export const REDACTED = '[REDACTED]';

/**
 * Shows whether a secret is set without showing any of it, e.g. in a
 * "configured credentials" view: `redact(apiKey)` → `'[REDACTED]'` or `'(not set)'`.
 */
export function redact(secret: string | Uint8Array | null | undefined): string {
  return secret === null || secret === undefined || secret.length === 0 ? '(not set)' : REDACTED;
}
