/**
 * The HTTP agents a caller may impose on every outbound connection of an
 * adapter (for instance an SSRF guard that refuses private addresses).
 */
import http, { type Agent as HttpAgent } from 'node:http';
import https, { type Agent as HttpsAgent } from 'node:https';

export interface OutboundAgents {
  httpAgent?: HttpAgent;
  httpsAgent?: HttpsAgent;
}

/** The agent for one URL's scheme, or undefined to keep the SDK's default. */
export function agentForUrl(url: string | URL, agents: OutboundAgents): HttpAgent | HttpsAgent | undefined {
  const protocol = typeof url === 'string' ? new URL(url).protocol : url.protocol;
  return protocol === 'http:' ? agents.httpAgent : agents.httpsAgent;
}

export function hasOutboundAgents(agents: OutboundAgents): boolean {
  return agents.httpAgent !== undefined || agents.httpsAgent !== undefined;
}

/** How long an adapter waits for a connection (the SDKs' `connectionTimeout`); without it a host that drops packets is waited on for minutes. */
export const CONNECTION_TIMEOUT_MS = 10_000;

/** The AWS SDK's own default when it is given no agent. */
const DEFAULT_MAX_SOCKETS = 50;

/** The caller's agents, or kept-alive ones of this adapter's own, for requests sent without an SDK. */
export function keepAliveAgents(agents: OutboundAgents): Required<OutboundAgents> {
  return {
    httpAgent: agents.httpAgent ?? new http.Agent({ keepAlive: true, maxSockets: DEFAULT_MAX_SOCKETS }),
    httpsAgent: agents.httpsAgent ?? new https.Agent({ keepAlive: true, maxSockets: DEFAULT_MAX_SOCKETS }),
  };
}
