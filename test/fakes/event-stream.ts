/**
 * AWS event-stream frames (`application/vnd.amazon.eventstream`), the binary
 * format Bedrock streams ConverseStream answers in. A frame is a prelude
 * (total length, headers length, CRC32 of those 8 bytes), typed headers, the
 * payload, and a CRC32 of everything before it.
 *
 * Frames are encoded with the Smithy codec (from `@smithy/core`, which the AWS
 * SDK depends on); `decodeEventStream` is written from the format's
 * description instead, so a test can check the encoded bytes independently.
 */
import { crc32 } from 'node:zlib';
import { EventStreamCodec } from '@smithy/core/event-streams';

const codec = new EventStreamCodec(
  (bytes) => Buffer.from(bytes).toString('utf8'),
  (text) => Buffer.from(text, 'utf8'),
);

const jsonPayload = (payload: unknown) => Buffer.from(JSON.stringify(payload), 'utf8');

/** An event (`messageStart`, `contentBlockDelta`, …) with a JSON payload. */
export const eventFrame = (eventType: string, payload: unknown): Uint8Array =>
  jsonFrame('event', eventType, payload);

/** A modeled error in the middle of a stream (`throttlingException`, `modelStreamErrorException`, …). */
export const exceptionFrame = (exceptionType: string, payload: Record<string, unknown>): Uint8Array =>
  jsonFrame('exception', exceptionType, payload);

function jsonFrame(messageType: 'event' | 'exception', type: string, payload: unknown): Uint8Array {
  return codec.encode({
    headers: {
      [`:${messageType}-type`]: { type: 'string', value: type },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: messageType },
    },
    body: jsonPayload(payload),
  });
}

export interface DecodedFrame {
  /** String headers only, which is all Bedrock sends. */
  headers: Record<string, string>;
  payload: unknown;
}

const PRELUDE_BYTES = 12;
const CRC_BYTES = 4;
const STRING_HEADER = 7;

/** Splits a whole event stream into frames, checking both CRCs of each; throws on any inconsistency. */
export function decodeEventStream(bytes: Uint8Array): DecodedFrame[] {
  const data = Buffer.from(bytes);
  const frames: DecodedFrame[] = [];
  for (let at = 0; at < data.length; ) {
    const totalLength = data.readUInt32BE(at);
    const headersLength = data.readUInt32BE(at + 4);
    const frame = data.subarray(at, at + totalLength);
    if (frame.length !== totalLength) throw new Error(`frame at ${at} is cut short`);
    if (crc32(frame.subarray(0, 8)) !== frame.readUInt32BE(8)) throw new Error(`bad prelude CRC at ${at}`);
    if (crc32(frame.subarray(0, totalLength - CRC_BYTES)) !== frame.readUInt32BE(totalLength - CRC_BYTES)) {
      throw new Error(`bad message CRC at ${at}`);
    }
    const headersEnd = PRELUDE_BYTES + headersLength;
    const payload = frame.subarray(headersEnd, totalLength - CRC_BYTES).toString('utf8');
    frames.push({
      headers: decodeHeaders(frame.subarray(PRELUDE_BYTES, headersEnd)),
      payload: JSON.parse(payload),
    });
    at += totalLength;
  }
  return frames;
}

/** Each header: name length (1 byte), name, type (1 byte), then for strings a 2-byte length and the value. */
function decodeHeaders(bytes: Buffer): Record<string, string> {
  const headers: Record<string, string> = {};
  for (let at = 0; at < bytes.length; ) {
    const nameLength = bytes.readUInt8(at);
    const name = bytes.subarray(at + 1, at + 1 + nameLength).toString('utf8');
    at += 1 + nameLength;
    const type = bytes.readUInt8(at);
    if (type !== STRING_HEADER) throw new Error(`header ${name} has type ${type}, not string`);
    const valueLength = bytes.readUInt16BE(at + 1);
    headers[name] = bytes.subarray(at + 3, at + 3 + valueLength).toString('utf8');
    at += 3 + valueLength;
  }
  return headers;
}
