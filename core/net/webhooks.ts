import { guardedFetch, type OutboundPolicy } from './outbound-guard.ts';

/** POSTs `payload` as JSON through the outbound guard; rejects unless the receiver answers 2xx. */
export async function postWebhook(
  url: string,
  payload: unknown,
  options: { outboundPolicy: OutboundPolicy; timeoutMs: number },
): Promise<void> {
  const init = {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(payload),
    timeoutMs: options.timeoutMs,
  };
  const response = await guardedFetch(url, init, options.outboundPolicy);
  await response.body?.cancel();
  if (!response.ok) throw new Error(`the webhook answered ${response.status}`);
}
