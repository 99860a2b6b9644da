/**
 * SSRF protection for every request the server makes to an address a user
 * supplied (S3-compatible endpoints, AI provider base URLs, alert webhooks).
 *
 * Two checks, both needed:
 * - `assertUrlAllowed` before a request: the scheme, an IP-literal host (Node
 *   never looks those up, so only a static check sees them), and every
 *   address a hostname resolves to. It gives a clear error early.
 * - `guardedLookup` / `createGuardedAgents` at connection time: the addresses
 *   actually connected to are checked again, so a hostname that resolves to a
 *   public address for the check and to 169.254.169.254 for the connection
 *   (DNS rebinding) is still refused.
 * `guardedRequest` (Node's answer) and `guardedFetch` (a WHATWG Response) do
 * both, and re-check every redirect hop.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { lookup as dnsLookupAsync } from 'node:dns/promises';
import http, { type ClientRequestArgs, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { type Duplex, Readable } from 'node:stream';
import { classifyAddress, stripBracketsAndZone } from './address-ranges.ts';

export { type AddressCategory, classifyAddress } from './address-ranges.ts';

/** Which non-public destinations this deployment may reach; the forbidden ranges are refused whatever it says. */
export interface OutboundPolicy {
  readonly allowLoopback: boolean;
  readonly allowPrivateNetworks: boolean;
}

/** Public addresses only: the right policy for a multi-tenant deployment. */
export const publicOnlyPolicy: OutboundPolicy = { allowLoopback: false, allowPrivateNetworks: false };

export class OutboundAddressRefused extends Error {
  readonly code = 'OUTBOUND_ADDRESS_REFUSED';
  /** The host as written in the URL (never the whole URL: it may carry credentials). */
  readonly host: string;
  /** The refused IP address, when the refusal is about one. */
  readonly address: string | undefined;
  readonly reason: string;
  constructor(host: string, reason: string, address?: string) {
    super(`Outbound request to ${host} refused: ${reason}`);
    this.name = 'OutboundAddressRefused';
    this.host = host;
    this.address = address;
    this.reason = reason;
  }
}

/** Resolves a hostname to every address; replaceable in tests. */
export type ResolveAll = (hostname: string) => Promise<readonly LookupAddress[]>;

const resolveWithSystem: ResolveAll = (hostname) =>
  dnsLookupAsync(hostname, { all: true, order: 'verbatim' });

/** Why `address` may not be reached under `policy`, or undefined when it may. */
export function addressRefusal(address: string, policy: OutboundPolicy): string | undefined {
  const { category, description } = classifyAddress(address);
  const shown = stripBracketsAndZone(address);
  if (category === 'public') return undefined;
  if (category === 'loopback' && policy.allowLoopback) return undefined;
  if (category === 'private' && policy.allowPrivateNetworks) return undefined;
  if (category === 'forbidden') return `${shown} is ${description}`;
  return `${shown} is ${description}, and the outbound policy does not allow ${category === 'loopback' ? 'loopback' : 'private-network'} destinations`;
}

export function isAddressAllowed(address: string, policy: OutboundPolicy): boolean {
  return addressRefusal(address, policy) === undefined;
}

/**
 * Refuses a URL the server must not request: a scheme other than http/https,
 * an IP-literal host in a refused range, or a hostname of which ANY resolved
 * address is refused. Returns the parsed URL. DNS failures propagate as they are.
 */
export async function assertUrlAllowed(
  url: string | URL,
  policy: OutboundPolicy,
  resolve: ResolveAll = resolveWithSystem,
): Promise<URL> {
  const parsed = assertUrlShapeAllowed(url, policy);
  const host = stripBracketsAndZone(parsed.hostname);
  if (isIP(host) !== 0) return parsed;
  const addresses = await resolve(host);
  throwIfAnyRefused(parsed.host, addresses, policy);
  return parsed;
}

/**
 * The part of `assertUrlAllowed` that needs no DNS: scheme, and the host when
 * it is an IP literal. WHATWG URL parsing has already normalised decimal, hex
 * and octal IPv4 forms (`http://2852039166/` → `169.254.169.254`), so the
 * normalised host is what is checked.
 */
export function assertUrlShapeAllowed(url: string | URL, policy: OutboundPolicy): URL {
  const parsed = parseUrl(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new OutboundAddressRefused(
      parsed.host || parsed.protocol,
      `scheme ${parsed.protocol} is not allowed (only http: and https:)`,
    );
  }
  const host = stripBracketsAndZone(parsed.hostname);
  if (isIP(host) !== 0) {
    const refusal = addressRefusal(host, policy);
    if (refusal) throw new OutboundAddressRefused(parsed.host, refusal, host);
  }
  return parsed;
}

function parseUrl(url: string | URL): URL {
  if (url instanceof URL) return url;
  try {
    return new URL(url);
  } catch {
    throw new OutboundAddressRefused('(invalid URL)', 'the URL cannot be parsed');
  }
}

function throwIfAnyRefused(host: string, addresses: readonly LookupAddress[], policy: OutboundPolicy): void {
  if (addresses.length === 0) throw new OutboundAddressRefused(host, 'the host resolves to no address');
  for (const { address } of addresses) {
    const refusal = addressRefusal(address, policy);
    if (refusal) throw new OutboundAddressRefused(host, `it resolves to ${refusal}`, address);
  }
}

/**
 * A `lookup` for `net.connect`, `tls.connect` and `http.Agent` options: resolves
 * every address and fails the connection if any is refused. Node does not call
 * `lookup` for IP-literal hosts; `createGuardedAgents` checks those itself.
 */
export function guardedLookup(policy: OutboundPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      try {
        throwIfAnyRefused(hostname, addresses, policy);
      } catch (refusal) {
        return callback(refusal as OutboundAddressRefused, []);
      }
      if (options.all) return callback(null, addresses);
      const [first] = addresses as [LookupAddress];
      callback(null, first.address, first.family);
    });
  };
}

export interface GuardedAgents {
  readonly httpAgent: http.Agent;
  readonly httpsAgent: https.Agent;
}

/**
 * Keep-alive agents that refuse refused destinations at connection time: the
 * resolved addresses of a hostname (through `guardedLookup`) and IP-literal
 * hosts (checked before connecting). For SDKs that take agents, e.g. the AWS
 * SDK's `NodeHttpHandler({ httpAgent, httpsAgent })`.
 */
export function createGuardedAgents(
  policy: OutboundPolicy,
  options: Omit<https.AgentOptions, 'lookup'> = {},
): GuardedAgents {
  const agentOptions = { keepAlive: true, ...options, lookup: guardedLookup(policy) };
  return {
    httpAgent: new GuardedHttpAgent(policy, agentOptions),
    httpsAgent: new GuardedHttpsAgent(policy, agentOptions),
  };
}

type ConnectionCallback = (error: Error | null, stream: Duplex) => void;

class GuardedHttpAgent extends http.Agent {
  readonly #policy: OutboundPolicy;
  constructor(policy: OutboundPolicy, options: http.AgentOptions) {
    super(options);
    this.#policy = policy;
  }
  override createConnection(options: ClientRequestArgs, callback?: ConnectionCallback) {
    const refusal = connectionRefusal(options, this.#policy);
    if (refusal) return failConnection(refusal, callback);
    return super.createConnection(options, callback);
  }
}

class GuardedHttpsAgent extends https.Agent {
  readonly #policy: OutboundPolicy;
  constructor(policy: OutboundPolicy, options: https.AgentOptions) {
    super(options);
    this.#policy = policy;
  }
  override createConnection(options: https.RequestOptions, callback?: ConnectionCallback) {
    const refusal = connectionRefusal(options, this.#policy);
    if (refusal) return failConnection(refusal, callback);
    return super.createConnection(options, callback);
  }
}

function connectionRefusal(
  options: ClientRequestArgs,
  policy: OutboundPolicy,
): OutboundAddressRefused | undefined {
  if (options.socketPath)
    return new OutboundAddressRefused(options.socketPath, 'unix sockets are not allowed');
  const host = stripBracketsAndZone(options.host ?? options.hostname ?? 'localhost');
  if (isIP(host) === 0) return undefined;
  const refusal = addressRefusal(host, policy);
  return refusal ? new OutboundAddressRefused(host, refusal, host) : undefined;
}

/** The agent's documented asynchronous path: report the error through the callback, return no socket. */
function failConnection(
  refusal: OutboundAddressRefused,
  callback: ConnectionCallback | undefined,
): undefined {
  if (!callback) throw refusal;
  // The stream argument is unused when the error is set (Node's agent returns early on error).
  process.nextTick(callback, refusal, undefined as never);
  return undefined;
}

export interface GuardedFetchInit {
  method?: string;
  /** Header names in any case; sent as given. */
  headers?: Record<string, string>;
  /** A replayable body, so 307/308 redirects can resend it. */
  body?: string | Uint8Array;
  signal?: AbortSignal;
  /** Aborts the whole exchange (all hops, and reading the body) after this many milliseconds. */
  timeoutMs?: number;
  /** As in fetch: follow (default), return the 3xx response (`manual`), or fail (`error`). */
  redirect?: 'follow' | 'manual' | 'error';
  /** Hops followed before giving up; default 5. */
  maxRedirects?: number;
}

export type OutboundRequestErrorCode =
  | 'OUTBOUND_TOO_MANY_REDIRECTS'
  | 'OUTBOUND_REDIRECT_NOT_ALLOWED'
  | 'OUTBOUND_INVALID_RESPONSE';

export class OutboundRequestError extends Error {
  readonly code: OutboundRequestErrorCode;
  constructor(code: OutboundRequestErrorCode, message: string) {
    super(message);
    this.name = 'OutboundRequestError';
    this.code = code;
  }
}

const DEFAULT_MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Dropped when a redirect leaves the origin, so a provider key does not follow it elsewhere. */
const CREDENTIAL_HEADERS = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'x-api-key',
  'api-key',
  'x-goog-api-key',
];
const BODY_HEADERS = [
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-location',
];

/** An answer of `guardedRequest`: its status checked, its body (when it has one) still to read. */
export interface GuardedAnswer {
  status: number;
  /** The URL that answered, after redirects. */
  url: URL;
  redirected: boolean;
  /** Node's message: headers lower-cased, the body a Readable that the request's signal also aborts. */
  message: IncomingMessage;
  hasBody: boolean;
}

/**
 * A request to a user-supplied address. Checks the URL, connects through
 * guarded agents, follows redirects by hand re-checking every hop, and
 * returns Node's own answer, whose body streams: the cheapest form for the
 * gateway's hot calls to AI providers.
 */
export async function guardedRequest(
  url: string | URL,
  init: GuardedFetchInit,
  policy: OutboundPolicy,
): Promise<GuardedAnswer> {
  const signal = combinedSignal(init);
  const maxRedirects = init.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  const agents = agentsFor(policy);
  const headers = lowerCasedHeaders(init.headers);
  let current = parseUrl(url);
  let method = (init.method ?? 'GET').toUpperCase();
  let body = init.body;
  for (let redirects = 0; ; redirects++) {
    await assertUrlAllowed(current, policy);
    signal?.throwIfAborted();
    const response = await sendRequest(current, { method, headers, body, signal, agents });
    const location = response.headers.location;
    if (
      !REDIRECT_STATUSES.has(response.statusCode ?? 0) ||
      location === undefined ||
      init.redirect === 'manual'
    ) {
      return answerOf(response, { url: current, method, redirected: redirects > 0, signal });
    }
    response.resume();
    if (init.redirect === 'error') {
      throw new OutboundRequestError(
        'OUTBOUND_REDIRECT_NOT_ALLOWED',
        `${current.host} answered with a redirect`,
      );
    }
    if (redirects >= maxRedirects) {
      throw new OutboundRequestError(
        'OUTBOUND_TOO_MANY_REDIRECTS',
        `more than ${maxRedirects} redirects, the last one from ${current.host}`,
      );
    }
    const next = parseLocation(location, current);
    if (switchesToGet(response.statusCode ?? 0, method)) {
      method = 'GET';
      body = undefined;
      for (const name of BODY_HEADERS) delete headers[name];
    }
    if (next.origin !== current.origin) for (const name of CREDENTIAL_HEADERS) delete headers[name];
    current = next;
  }
}

/**
 * `guardedRequest` as a fetch for our outbound calls that want a standard
 * `Response` (webhooks, provider validation), whose body streams.
 */
export async function guardedFetch(
  url: string | URL,
  init: GuardedFetchInit,
  policy: OutboundPolicy,
): Promise<Response> {
  return toWebResponse(await guardedRequest(url, init, policy));
}

function lowerCasedHeaders(headers: Record<string, string> | undefined): Record<string, string> {
  const lowerCased: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) lowerCased[name.toLowerCase()] = value;
  return lowerCased;
}

function combinedSignal(init: GuardedFetchInit): AbortSignal | undefined {
  const signals = [
    init.signal,
    init.timeoutMs === undefined ? undefined : AbortSignal.timeout(init.timeoutMs),
  ];
  const present = signals.filter((signal): signal is AbortSignal => signal !== undefined);
  return present.length === 0 ? undefined : AbortSignal.any(present);
}

const agentCache = new Map<string, GuardedAgents>();

function agentsFor(policy: OutboundPolicy): GuardedAgents {
  const key = `${policy.allowLoopback}:${policy.allowPrivateNetworks}`;
  let agents = agentCache.get(key);
  if (!agents) {
    agents = createGuardedAgents({ ...policy });
    agentCache.set(key, agents);
  }
  return agents;
}

function parseLocation(location: string, base: URL): URL {
  try {
    return new URL(location, base);
  } catch {
    throw new OutboundAddressRefused(base.host, 'it redirected to a URL that cannot be parsed');
  }
}

/** Fetch's rule: 303 turns anything but HEAD into GET; 301/302 turn POST into GET. */
function switchesToGet(status: number, method: string): boolean {
  return (
    (status === 303 && method !== 'HEAD' && method !== 'GET') ||
    ((status === 301 || status === 302) && method === 'POST')
  );
}

function sendRequest(
  url: URL,
  request: {
    method: string;
    headers: Record<string, string>;
    body: string | Uint8Array | undefined;
    signal: AbortSignal | undefined;
    agents: GuardedAgents;
  },
): Promise<IncomingMessage> {
  const isHttps = url.protocol === 'https:';
  const transport = isHttps ? https : http;
  return new Promise((resolve, reject) => {
    const outgoing = transport.request(url, {
      method: request.method,
      headers: request.headers,
      agent: isHttps ? request.agents.httpsAgent : request.agents.httpAgent,
      signal: request.signal,
    });
    outgoing.once('response', resolve);
    outgoing.once('error', (error) => reject(request.signal?.aborted ? request.signal.reason : error));
    outgoing.end(request.body);
  });
}

const NULL_BODY_STATUSES = new Set([204, 205, 304]);

function answerOf(
  incoming: IncomingMessage,
  context: { url: URL; method: string; redirected: boolean; signal: AbortSignal | undefined },
): GuardedAnswer {
  const status = incoming.statusCode ?? 0;
  if (status < 200 || status > 599) {
    incoming.destroy();
    throw new OutboundRequestError(
      'OUTBOUND_INVALID_RESPONSE',
      `${context.url.host} answered with HTTP status ${status}`,
    );
  }
  const hasBody = context.method !== 'HEAD' && !NULL_BODY_STATUSES.has(status);
  if (!hasBody) incoming.resume();
  if (hasBody && context.signal) {
    const signal = context.signal;
    const abortBody = () => incoming.destroy(signal.reason);
    signal.addEventListener('abort', abortBody, { once: true });
    incoming.once('close', () => signal.removeEventListener('abort', abortBody));
  }
  return { status, url: context.url, redirected: context.redirected, message: incoming, hasBody };
}

function toWebResponse(answer: GuardedAnswer): Response {
  const { message } = answer;
  const headers = new Headers();
  for (let index = 0; index + 1 < message.rawHeaders.length; index += 2) {
    headers.append(message.rawHeaders[index]!, message.rawHeaders[index + 1]!);
  }
  const body = answer.hasBody ? (Readable.toWeb(message) as unknown as ReadableStream<Uint8Array>) : null;
  const statusText = /^[\t\x20-\x7e]*$/.test(message.statusMessage ?? '') ? message.statusMessage : '';
  const response = new Response(body, { status: answer.status, statusText, headers });
  // Response's url and redirected are read-only getters; give this instance the values fetch would.
  Object.defineProperties(response, {
    url: { value: answer.url.href },
    redirected: { value: answer.redirected },
  });
  return response;
}
