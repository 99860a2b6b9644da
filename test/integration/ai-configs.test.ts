/** CP-6 through the API: AI LLM configs validated with a real call to each provider's (fake) model list. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AiLlmConfig } from '../../core/db/entities/index.ts';
import type { AiProviderType } from '../../providers/ai/index.ts';
import { type FakeProvider, startFakeProvider } from '../fakes/index.ts';
import { api, login, startTestStack, type TestStack } from '../helpers/context.ts';

const providerTypes: AiProviderType[] = ['OPENAI', 'OTHER', 'ANTHROPIC', 'GOOGLE', 'AWS'];

describe('AI LLM configs', () => {
  let stack: TestStack;
  let token: string;
  const fakes = new Map<AiProviderType, FakeProvider>();
  const call = (method: string, path: string, body?: unknown) =>
    api(stack.baseUrl, method, path, { token, body });

  beforeAll(async () => {
    stack = await startTestStack();
    token = await login(stack.baseUrl, stack.admin);
    for (const type of providerTypes) fakes.set(type, await startFakeProvider(type));
  });
  afterAll(async () => {
    await Promise.all([...fakes.values()].map((fake) => fake.close()));
    await stack?.close();
  });

  async function createFor(type: AiProviderType, overrides: Record<string, unknown> = {}) {
    const fake = fakes.get(type)!;
    return call('POST', '/ai/llm', {
      name: `${type.toLowerCase()}-${Math.random().toString(36).slice(2, 8)}`,
      type,
      apiEndpoint: fake.baseUrl,
      ...fake.credentials,
      ...overrides,
    });
  }

  it.each(providerTypes)('validates a %s config and lists its models', async (type) => {
    const created = await createFor(type);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      type,
      status: 'UNVALIDATED',
      hasApiKey: fakes.get(type)!.credentials.apiKey !== undefined,
    });
    const validated = await call('POST', `/ai/llm/${created.body.id}/validate`);
    expect(validated.body).toMatchObject({ status: 'VALID', reason: null });
    expect(validated.body.modelCount).toBe(fakes.get(type)!.models.length);
    const models = await call('GET', `/ai/llm/${created.body.id}/models`);
    expect(models.body.models.map((model: { id: string }) => model.id).sort()).toEqual(
      fakes
        .get(type)!
        .models.map((model) => model.id.replace(/^models\//, ''))
        .sort(),
    );
    expect((await call('GET', `/ai/llm/${created.body.id}`)).body.status).toBe('VALID');
  });

  it.each(providerTypes)('reports a wrong %s secret clearly and keeps the config INVALID', async (type) => {
    const created = await createFor(type, { apiSecret: 'definitely-wrong-secret' });
    const validated = await call('POST', `/ai/llm/${created.body.id}/validate`);
    expect(validated.body.status).toBe('INVALID');
    expect(validated.body.reason).toMatch(/^InvalidCredentials: /);
    const models = await call('GET', `/ai/llm/${created.body.id}/models`);
    expect(models).toMatchObject({ status: 502, body: { code: 'UPSTREAM_FAILED' } });
  });

  it('reports a wrong base URL as an endpoint problem', async () => {
    const created = await createFor('OPENAI', { apiEndpoint: `${fakes.get('OPENAI')!.origin}/wrong/prefix` });
    const validated = await call('POST', `/ai/llm/${created.body.id}/validate`);
    expect(validated.body).toMatchObject({ status: 'INVALID' });
    expect(validated.body.reason).toMatch(/^NotFound: .*base URL/);
  });

  it('never returns or stores the secrets in clear, and a new secret needs a new validation', async () => {
    const created = await createFor('ANTHROPIC');
    await call('POST', `/ai/llm/${created.body.id}/validate`);
    const secret = fakes.get('ANTHROPIC')!.credentials.apiSecret;
    const rows = await stack.orm.em
      .getConnection()
      .execute('select * from ai_llm_configs where id = ?', [created.body.id]);
    expect(JSON.stringify(rows)).not.toContain(secret);
    expect(JSON.stringify((await call('GET', `/ai/llm/${created.body.id}`)).body)).not.toContain(secret);
    const updated = await call('PUT', `/ai/llm/${created.body.id}`, { apiSecret: 'rotated-secret' });
    expect(updated.body.status).toBe('UNVALIDATED');
    const stored = await stack.orm.em.fork().findOneOrFail(AiLlmConfig, created.body.id);
    expect(stored.status).toBe('UNVALIDATED');
  });

  it('refuses metadata and private addresses as base URLs, unknown types and duplicates', async () => {
    const metadata = await createFor('OPENAI', { apiEndpoint: 'http://169.254.169.254/v1' });
    expect(metadata).toMatchObject({ status: 400, body: { code: 'ADDRESS_NOT_ALLOWED' } });
    const privateRange = await createFor('OTHER', { apiEndpoint: 'http://192.168.1.20:11434/v1' });
    expect(privateRange).toMatchObject({ status: 400, body: { code: 'ADDRESS_NOT_ALLOWED' } });
    const unknownType = await createFor('OPENAI', { type: 'MISTRAL' });
    expect(unknownType).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
    const first = await createFor('OPENAI', { name: 'same-name' });
    expect(first.status).toBe(201);
    expect((await createFor('OPENAI', { name: 'same-name' })).status).toBe(409);
  });
});
