/**
 * Listing models (CP-6: validating an AI LLM config) against a wire-compatible
 * fake of each provider: the models mapped to ModelInfo, pagination, and each
 * failure an operator must be told about clearly — wrong secret, wrong base
 * URL, throttling, provider errors, network failures, and endpoints the
 * outbound guard refuses.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OutboundAddressRefused, type OutboundPolicy } from '../../core/net/outbound-guard.ts';
import {
  type AiProviderError,
  type AiProviderErrorCode,
  type AiProviderType,
  listModels,
  type ModelInfo,
} from '../../providers/ai/index.ts';
import { freePort } from '../../scripts/services/free-port.ts';
import { type FakeModel, type FakeProvider, startFakeProvider } from '../fakes/index.ts';
import { failureOf } from '../helpers/ai-chat.ts';

/** The fakes listen on 127.0.0.1. */
const outboundPolicy: OutboundPolicy = { allowLoopback: true, allowPrivateNetworks: false };

const iso = (unixSeconds: number | undefined) => new Date((unixSeconds ?? 0) * 1000).toISOString();

interface ProviderCase {
  type: AiProviderType;
  /** What listModels should return for the fake's models. */
  expected(models: FakeModel[]): ModelInfo[];
  /** Whether the fake is set up to answer in pages of 2. */
  paginates: boolean;
  /** Server errors the provider is known for. */
  serverErrors: number[];
}

const cases: ProviderCase[] = [
  {
    type: 'OPENAI',
    expected: (models) => models.map((m) => ({ id: m.id, ownedBy: m.ownedBy, created: iso(m.created) })),
    paginates: false,
    serverErrors: [500, 503],
  },
  {
    type: 'OTHER',
    expected: (models) => models.map((m) => ({ id: m.id, ownedBy: m.ownedBy, created: iso(m.created) })),
    paginates: false,
    serverErrors: [500],
  },
  {
    type: 'ANTHROPIC',
    expected: (models) =>
      models.map((m) => ({ id: m.id, displayName: m.displayName, created: iso(m.created) })),
    paginates: true,
    serverErrors: [500, 529],
  },
  {
    type: 'GOOGLE',
    expected: (models) => models.map((m) => ({ id: m.id, displayName: m.displayName })),
    paginates: true,
    serverErrors: [500, 503],
  },
  {
    type: 'AWS',
    expected: (models) => models.map((m) => ({ id: m.id, displayName: m.displayName, ownedBy: m.ownedBy })),
    paginates: false,
    serverErrors: [500, 503],
  },
];

function expectCode(error: AiProviderError, code: AiProviderErrorCode): void {
  expect({ code: error.code, message: error.message }).toMatchObject({ code });
}

describe.each(cases)('$type listModels', (providerCase) => {
  let fake: FakeProvider;

  beforeAll(async () => {
    fake = await startFakeProvider(providerCase.type, { maxPageSize: 2 });
  });
  afterAll(() => fake.close());
  beforeEach(() => fake.reset());

  it("lists the provider's models, mapped to ModelInfo", async () => {
    const models = await listModels(fake.connection(), { outboundPolicy });
    expect(models).toEqual(providerCase.expected(fake.models));
    expect(models.length).toBe(3);
    // Three models in pages of two: two requests where the API paginates, one where it does not.
    expect(fake.requests).toHaveLength(providerCase.paginates ? 2 : 1);
  });

  it('reports a wrong secret as InvalidCredentials, without echoing it', async () => {
    const wrongSecret = 'wrong-secret-0123456789-DO-NOT-ECHO';
    const error = await failureOf(
      listModels(fake.connection({ apiSecret: wrongSecret }), { outboundPolicy }),
    );
    expectCode(error, 'InvalidCredentials');
    expect(error.message).toMatch(/rejected/);
    expect(error.message).not.toContain(wrongSecret);
    expect(error.httpStatus).toBe(
      providerCase.type === 'GOOGLE' ? 400 : providerCase.type === 'AWS' ? 403 : 401,
    );
    expect(error.retryable).toBe(false);
  });

  it('reports a wrong base URL path as NotFound and says to check the base URL', async () => {
    const error = await failureOf(
      listModels(fake.connection({ apiEndpoint: `${fake.origin}/wrong/prefix` }), { outboundPolicy }),
    );
    expectCode(error, 'NotFound');
    expect(error.httpStatus).toBe(404);
    expect(error.message).toMatch(/check the base URL/);
    expect(error.message).toContain(`${fake.origin}/wrong/prefix/`);
  });

  it('reports a 429 as Throttled, with the wait the provider asked for', async () => {
    fake.script({ kind: 'error', status: 429, retryAfterSeconds: 7 });
    const error = await failureOf(listModels(fake.connection(), { outboundPolicy }));
    expectCode(error, 'Throttled');
    expect(error.httpStatus).toBe(429);
    expect(error.retryAfterSeconds).toBe(7);
    expect(error.message).toMatch(/rate limiting.*retry after 7 s/);
    expect(error.retryable).toBe(true);
  });

  it.each(providerCase.serverErrors)('reports a %i as Transient', async (status) => {
    fake.script({ kind: 'error', status });
    const error = await failureOf(listModels(fake.connection(), { outboundPolicy }));
    expectCode(error, 'Transient');
    expect(error.httpStatus).toBe(status);
    expect(error.message).toMatch(/try again later/);
    // One attempt: retrying is the caller's decision.
    expect(fake.requests).toHaveLength(1);
  });

  it('reports a 403 as PermissionDenied', async () => {
    fake.script({ kind: 'error', status: 403 });
    const error = await failureOf(listModels(fake.connection(), { outboundPolicy }));
    expectCode(error, 'PermissionDenied');
    expect(error.providerMessage).toBeTruthy();
  });

  it('reports a 200 that is not the models API (another server) as Invalid, suggesting the base URL', async () => {
    fake.script({
      kind: 'respond',
      response: { status: 200, headers: { 'content-type': 'text/html' }, text: '<html>Welcome</html>' },
    });
    const error = await failureOf(listModels(fake.connection(), { outboundPolicy }));
    expectCode(error, 'Invalid');
    expect(error.message).toMatch(/answered 200 .* but not with .* check the base URL/);
  });

  it('reports a dropped connection as Transient', async () => {
    fake.script({ kind: 'drop' });
    const error = await failureOf(listModels(fake.connection(), { outboundPolicy }));
    expectCode(error, 'Transient');
    expect(error.message).toMatch(/could not reach .*closed/i);
  });

  it('gives up on a slow first byte after the timeout, as Transient', async () => {
    fake.script({ kind: 'delay', ms: 3_000 });
    const started = Date.now();
    const error = await failureOf(listModels(fake.connection(), { outboundPolicy, timeoutMs: 300 }));
    expectCode(error, 'Transient');
    expect(error.message).toMatch(/no answer within 0\.3 s/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('waits for a slow first byte within the timeout', async () => {
    fake.script({ kind: 'delay', ms: 200 });
    const models = await listModels(fake.connection(), { outboundPolicy, timeoutMs: 5_000 });
    expect(models).toHaveLength(3);
  });

  it('reports a closed port as Transient "could not reach"', async () => {
    const closedPort = await freePort();
    const error = await failureOf(
      listModels(fake.connection({ apiEndpoint: `http://127.0.0.1:${closedPort}` }), { outboundPolicy }),
    );
    expectCode(error, 'Transient');
    expect(error.message).toMatch(/could not reach the provider at 127\.0\.0\.1:\d+: connection refused/i);
  });

  it('refuses the cloud metadata address before any request', async () => {
    const error = await failureOf(
      listModels(fake.connection({ apiEndpoint: 'http://169.254.169.254/v1' }), {
        outboundPolicy: { allowLoopback: true, allowPrivateNetworks: true },
      }),
    );
    expectCode(error, 'Invalid');
    expect(error.cause).toBeInstanceOf(OutboundAddressRefused);
    expect(error.message).toMatch(/^Outbound request to 169\.254\.169\.254 refused/);
  });

  it("refuses the fake's loopback address when the policy does not allow loopback", async () => {
    const error = await failureOf(
      listModels(fake.connection(), {
        outboundPolicy: { allowLoopback: false, allowPrivateNetworks: false },
      }),
    );
    expectCode(error, 'Invalid');
    expect(error.message).toMatch(/refused: 127\.0\.0\.1 is .*loopback/);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('OpenAI specifics', () => {
  let fake: FakeProvider;
  beforeAll(async () => {
    fake = await startFakeProvider('OPENAI', {
      credentials: { apiKey: 'org-fake', apiSecret: 'sk-fake-org' },
    });
  });
  afterAll(() => fake.close());

  it('sends the API secret as a bearer token and the API key as OpenAI-Organization', async () => {
    await listModels(fake.connection(), { outboundPolicy });
    const [request] = fake.requests;
    expect(request?.headers.authorization).toBe('Bearer sk-fake-org');
    expect(request?.headers['openai-organization']).toBe('org-fake');
  });

  it('says when the organization does not match the secret', async () => {
    const error = await failureOf(listModels(fake.connection({ apiKey: 'org-other' }), { outboundPolicy }));
    expectCode(error, 'InvalidCredentials');
    expect(error.vendorCode).toBe('mismatched_organization');
    expect(error.message).toMatch(/organization/);
  });

  it('adds /v1 to a bare origin', async () => {
    const models = await listModels(fake.connection({ apiEndpoint: fake.origin }), { outboundPolicy });
    expect(models.map((model) => model.id)).toContain('gpt-4o');
  });
});

describe('Anthropic specifics', () => {
  let fake: FakeProvider;
  beforeAll(async () => {
    fake = await startFakeProvider('ANTHROPIC', { maxPageSize: 2 });
  });
  afterAll(() => fake.close());

  it('sends x-api-key and anthropic-version, and follows after_id', async () => {
    await listModels(fake.connection(), { outboundPolicy });
    const [first, second] = fake.requests;
    expect(first?.headers['x-api-key']).toBe(fake.credentials.apiSecret);
    expect(first?.headers['anthropic-version']).toBe('2023-06-01');
    expect(second?.query.get('after_id')).toBe(fake.models[1]?.id);
  });

  it('accepts a base URL that already ends in /v1', async () => {
    const models = await listModels(fake.connection({ apiEndpoint: `${fake.origin}/v1` }), {
      outboundPolicy,
    });
    expect(models).toHaveLength(3);
  });
});

describe('Gemini specifics', () => {
  let fake: FakeProvider;
  beforeAll(async () => {
    fake = await startFakeProvider('GOOGLE', { maxPageSize: 2 });
  });
  afterAll(() => fake.close());

  it('sends the key in x-goog-api-key, never in the URL, and follows nextPageToken', async () => {
    await listModels(fake.connection(), { outboundPolicy });
    const [first, second] = fake.requests;
    expect(first?.headers['x-goog-api-key']).toBe(fake.credentials.apiSecret);
    expect(first?.rawQuery).not.toContain('key=');
    expect(second?.query.get('pageToken')).toBeTruthy();
  });

  it("maps Google's 400 API_KEY_INVALID to InvalidCredentials", async () => {
    const error = await failureOf(
      listModels(fake.connection({ apiSecret: 'AIza-wrong' }), { outboundPolicy }),
    );
    expect(error).toMatchObject({
      code: 'InvalidCredentials',
      httpStatus: 400,
      vendorCode: 'API_KEY_INVALID',
    });
    expect(error.providerMessage).toMatch(/API key not valid/);
  });
});

describe('Bedrock specifics', () => {
  let fake: FakeProvider;
  beforeAll(async () => {
    fake = await startFakeProvider('AWS');
  });
  afterAll(() => fake.close());

  it('signs with SigV4 for the access key id given as API key', async () => {
    await listModels(fake.connection(), { outboundPolicy });
    expect(fake.requests[0]?.headers.authorization).toMatch(
      new RegExp(
        `^AWS4-HMAC-SHA256 Credential=${fake.credentials.apiKey}/\\d{8}/us-east-1/bedrock/aws4_request`,
      ),
    );
  });

  it('tells an unknown access key id from a wrong secret', async () => {
    const unknownKey = await failureOf(
      listModels(fake.connection({ apiKey: 'AKIAUNKNOWN000000000' }), { outboundPolicy }),
    );
    expect(unknownKey).toMatchObject({
      code: 'InvalidCredentials',
      vendorCode: 'UnrecognizedClientException',
    });
    expect(unknownKey.message).toMatch(/access key id/);
    const wrongSecret = await failureOf(
      listModels(fake.connection({ apiSecret: 'not-the-secret' }), { outboundPolicy }),
    );
    expect(wrongSecret).toMatchObject({
      code: 'InvalidCredentials',
      vendorCode: 'InvalidSignatureException',
    });
    expect(wrongSecret.message).toMatch(/secret access key/);
  });

  it('requires the access key id without making a request', async () => {
    fake.reset();
    const error = await failureOf(listModels(fake.connection({ apiKey: '' }), { outboundPolicy }));
    expectCode(error, 'Invalid');
    expect(error.message).toMatch(/access key id/);
    expect(fake.requests).toHaveLength(0);
  });

  it('reports AccessDeniedException as PermissionDenied with what AWS said', async () => {
    fake.script({ kind: 'error', status: 403 });
    const error = await failureOf(listModels(fake.connection(), { outboundPolicy }));
    expect(error).toMatchObject({ code: 'PermissionDenied', vendorCode: 'AccessDeniedException' });
    expect(error.message).toMatch(/bedrock:ListFoundationModels/);
  });
});
