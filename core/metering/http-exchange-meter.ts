/**
 * Measures one HTTP exchange for metering, without changing how it streams:
 * request body bytes as the handler reads them, response body bytes as the
 * handler writes them, latency, and the status sent. Shared by the bridge's
 * gateways (plain `node:http` servers). Nothing is added to the data path:
 * both directions are observed where every consumer and writer already goes
 * (and counted for the relay collector too, see relay-collector.ts).
 */
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { relayCollector } from './relay-collector.ts';

export interface MeasuredExchange {
  /** When the exchange ended: the response was sent, or the connection closed. */
  occurredAt: Date;
  /** The status sent; 499 (as nginx logs it) when the client went away before a response was sent. */
  status: number;
  bytesIn: number;
  bytesOut: number;
  latencyMs: number;
}

export interface HttpExchangeMeter {
  /**
   * The request body (the same stream), counted as the handler consumes it.
   * Errors (a failed signature or checksum check) reach the handler unchanged.
   */
  countRequestBody(body: Readable): Readable;
}

/**
 * Starts measuring now; calls `onClosed` once, when the response closes
 * (finished or cut off). Response bytes are counted by observing
 * `res.write` / `res.end`, which every writer goes through, `pipe` included.
 */
export function meterHttpExchange(
  res: ServerResponse,
  onClosed: (measured: MeasuredExchange) => void,
): HttpExchangeMeter {
  const startedAt = performance.now();
  let bytesIn = 0;
  let bytesOut = 0;
  countResponseBody(res, (bytes) => {
    bytesOut += bytes;
    relayCollector.relayed(bytes);
  });
  res.once('close', () => {
    onClosed({
      occurredAt: new Date(),
      status: res.headersSent ? res.statusCode : 499,
      bytesIn,
      bytesOut,
      latencyMs: Math.round(performance.now() - startedAt),
    });
  });
  return {
    countRequestBody(body) {
      countConsumedChunks(body, (bytes) => {
        bytesIn += bytes;
        relayCollector.relayed(bytes);
      });
      return body;
    },
  };
}

type EmitArguments = [event: string | symbol, ...args: unknown[]];

/**
 * A readable hands every chunk it gives out to 'data' listeners, however it is
 * consumed (pipe, read(), async iteration), so the emission is where bytes are
 * counted. A listener would do it too, but would start the flow by itself.
 */
function countConsumedChunks(body: Readable, add: (bytes: number) => void): void {
  const emit = body.emit.bind(body) as (...args: EmitArguments) => boolean;
  body.emit = ((...args: EmitArguments) => {
    if (args[0] === 'data') add(byteLengthOf(args[1], undefined));
    return emit(...args);
  }) as Readable['emit'];
}

type WriteArguments = [chunk?: unknown, encodingOrCallback?: unknown, callback?: unknown];

function countResponseBody(res: ServerResponse, add: (bytes: number) => void): void {
  // The overloads of write/end cannot be restated generically: forward whatever arguments came.
  const write = res.write.bind(res) as (...args: WriteArguments) => boolean;
  const end = res.end.bind(res) as (...args: WriteArguments) => ServerResponse;
  res.write = ((...args: WriteArguments) => {
    add(byteLengthOf(args[0], args[1]));
    return write(...args);
  }) as ServerResponse['write'];
  res.end = ((...args: WriteArguments) => {
    add(byteLengthOf(args[0], args[1]));
    return end(...args);
  }) as ServerResponse['end'];
}

/** Bytes of a chunk given to write/end; 0 for no chunk (a callback in its place). */
function byteLengthOf(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string')
    return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (ArrayBuffer.isView(chunk)) return chunk.byteLength;
  return 0;
}
