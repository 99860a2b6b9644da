/**
 * The pure parts of the AI provider layer: how each provider's base URL is
 * read from what an operator typed, and how failures become AiProviderErrors.
 */
import { describe, expect, it } from 'vitest';
import { OutboundAddressRefused } from '../../core/net/outbound-guard.ts';
import { anthropicBaseUrl } from '../../providers/ai/anthropic.ts';
import { bedrockEndpoint } from '../../providers/ai/bedrock.ts';
import { codeForHttpStatus, connectionFailure, parseRetryAfter } from '../../providers/ai/errors.ts';
import { geminiBaseUrl, geminiError } from '../../providers/ai/gemini.ts';
import { openAiBaseUrl, openAiError } from '../../providers/ai/openai.ts';
import { AiProviderError, type AiProviderType } from '../../providers/ai/provider.ts';

const connection = (type: AiProviderType, apiEndpoint: string) => ({ type, apiEndpoint, apiSecret: 's' });

describe('base URLs', () => {
  it.each([
    ['OPENAI', '', 'https://api.openai.com/v1'],
    ['OPENAI', 'https://api.openai.com', 'https://api.openai.com/v1'],
    ['OPENAI', 'https://api.openai.com/v1/', 'https://api.openai.com/v1/'],
    ['OTHER', 'http://vllm.internal:8000/v1', 'http://vllm.internal:8000/v1'],
    ['OTHER', 'https://gateway.example/openai', 'https://gateway.example/openai'],
  ] as const)('%s %j → %s', (type, written, expected) => {
    expect(openAiBaseUrl(connection(type, written)).href).toBe(expected);
  });

  it('has no default endpoint for OTHER', () => {
    expect(() => openAiBaseUrl(connection('OTHER', ''))).toThrow(/required/);
  });

  it.each([
    ['', 'https://api.anthropic.com/v1'],
    ['https://api.anthropic.com', 'https://api.anthropic.com/v1'],
    ['https://api.anthropic.com/v1/', 'https://api.anthropic.com/v1'],
    ['https://gateway.example/anthropic', 'https://gateway.example/anthropic/v1'],
  ])('Anthropic %j → %s', (written, expected) => {
    expect(anthropicBaseUrl(connection('ANTHROPIC', written)).href).toBe(expected);
  });

  it.each([
    ['', 'https://generativelanguage.googleapis.com/v1beta'],
    ['https://generativelanguage.googleapis.com', 'https://generativelanguage.googleapis.com/v1beta'],
    ['https://generativelanguage.googleapis.com/v1', 'https://generativelanguage.googleapis.com/v1'],
    ['https://gw.example/google-ai-studio', 'https://gw.example/google-ai-studio/v1beta'],
  ])('Gemini %j → %s', (written, expected) => {
    expect(geminiBaseUrl(connection('GOOGLE', written)).href).toBe(expected);
  });

  it.each([
    ['https://bedrock.eu-west-3.amazonaws.com', 'eu-west-3', 'https://bedrock.eu-west-3.amazonaws.com/'],
    [
      'https://bedrock-runtime.us-west-2.amazonaws.com',
      'us-west-2',
      'https://bedrock.us-west-2.amazonaws.com/',
    ],
    [
      'https://bedrock-fips.us-east-1.amazonaws.com',
      'us-east-1',
      'https://bedrock-fips.us-east-1.amazonaws.com/',
    ],
    [
      'https://bedrock.cn-north-1.amazonaws.com.cn',
      'cn-north-1',
      'https://bedrock.cn-north-1.amazonaws.com.cn/',
    ],
    ['ap-southeast-2', 'ap-southeast-2', 'https://bedrock.ap-southeast-2.amazonaws.com/'],
    [
      'https://vpce-0abc-bedrock.bedrock.eu-central-1.vpce.amazonaws.com',
      'eu-central-1',
      'https://vpce-0abc-bedrock.bedrock.eu-central-1.vpce.amazonaws.com/',
    ],
    ['http://127.0.0.1:4566', 'us-east-1', 'http://127.0.0.1:4566/'],
  ])('Bedrock %j → region %s, control plane %s', (written, region, controlPlane) => {
    const endpoint = bedrockEndpoint(connection('AWS', written));
    expect({ region: endpoint.region, controlPlane: endpoint.controlPlane.href }).toEqual({
      region,
      controlPlane,
    });
  });

  it.each([
    ['AWS', ''],
    ['OPENAI', 'not a url'],
    ['OPENAI', 'ftp://files.example/v1'],
  ] as const)('%s %j is Invalid with a clear message', (type, written) => {
    const call = () =>
      type === 'AWS' ? bedrockEndpoint(connection(type, written)) : openAiBaseUrl(connection(type, written));
    expect(call).toThrow(AiProviderError);
    expect(call).toThrow(/API endpoint/);
  });
});

describe('error mapping', () => {
  it.each([
    [401, 'InvalidCredentials'],
    [403, 'PermissionDenied'],
    [404, 'NotFound'],
    [408, 'Transient'],
    [429, 'Throttled'],
    [500, 'Transient'],
    [529, 'Transient'],
    [400, 'Invalid'],
    [422, 'Invalid'],
  ])('HTTP %i → %s', (status, code) => {
    expect(codeForHttpStatus(status)).toBe(code);
  });

  it('reads Retry-After as seconds or as a date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7);
    expect(parseRetryAfter('1.2', now)).toBe(2);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  const answer = (status: number, json: unknown, headers: Record<string, string> = {}) => ({
    status,
    json,
    text: JSON.stringify(json),
    headers: new Headers(headers),
    url: new URL('https://user:pw@api.example/v1/models?x=1'),
  });

  it("takes Gemini's RetryInfo as the wait", () => {
    const error = geminiError(
      answer(429, {
        error: {
          code: 429,
          status: 'RESOURCE_EXHAUSTED',
          message: 'quota',
          details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '12.5s' }],
        },
      }),
    );
    expect(error).toMatchObject({ code: 'Throttled', retryAfterSeconds: 13 });
  });

  it("treats OpenAI's insufficient_quota as a refusal, not throttling", () => {
    const error = openAiError(
      answer(429, {
        error: {
          message: 'You exceeded your current quota',
          type: 'insufficient_quota',
          code: 'insufficient_quota',
        },
      }),
    );
    expect(error.code).toBe('PermissionDenied');
    expect(error.message).toMatch(/no quota left/);
  });

  it('understands the error bodies of OpenAI-compatible servers that differ from OpenAI', () => {
    expect(
      openAiError(answer(400, { object: 'error', message: 'bad model', type: 'BadRequestError' })),
    ).toMatchObject({
      code: 'Invalid',
      vendorCode: 'BadRequestError',
      providerMessage: 'bad model',
    });
    expect(openAiError(answer(401, { error: 'Unauthorized' })).code).toBe('InvalidCredentials');
  });

  it('never shows credentials or the query of the URL', () => {
    const error = openAiError(answer(404, {}));
    expect(error.message).toContain('https://api.example/v1/models');
    expect(error.message).not.toMatch(/pw|x=1/);
  });

  it("keeps the outbound guard's message for a refused address", () => {
    const refusal = new OutboundAddressRefused(
      '169.254.169.254',
      '169.254.169.254 is link-local',
      '169.254.169.254',
    );
    const error = connectionFailure(refusal, new URL('http://169.254.169.254/'), 1000);
    expect(error).toMatchObject({ code: 'Invalid', message: refusal.message, cause: refusal });
  });

  it('names network failures and timeouts', () => {
    const url = new URL('https://api.example/v1');
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(connectionFailure(refused, url, 1000).message).toMatch(
      /^Could not reach the provider at api.example: connection refused/,
    );
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    expect(connectionFailure(timeout, url, 1500)).toMatchObject({
      code: 'Transient',
      message: 'Could not reach the provider at api.example: no answer within 1.5 s',
    });
    const tls = Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    expect(connectionFailure(tls, url, 1000).code).toBe('Invalid');
  });
});
