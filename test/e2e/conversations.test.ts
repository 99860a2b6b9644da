/**
 * Conversations (CP-9) through the API: history kept and sent as context
 * (trimmed by the documented rule), JSON and streamed answers, metering with
 * the conversation id, tenancy, and provider failures as API problems.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conversationContext, estimateTokens } from '../../core/ai/conversation-context.ts';
import { UsageEvent } from '../../core/db/entities/index.ts';
import { type FakeProvider, startFakeProvider } from '../fakes/index.ts';
import { registerFakeConfig } from '../helpers/ai-gateway.ts';
import { api, login, startTestStack, type TestStack } from '../helpers/context.ts';

describe('conversations', () => {
  let stack: TestStack;
  let fake: FakeProvider;
  let token: string;
  let repoId: string;
  const call = (method: string, path: string, body?: unknown) =>
    api(stack.baseUrl, method, path, { token, body });
  const sentMessages = () =>
    (
      JSON.parse(fake.requests.at(-1)!.body) as { messages: { role: string; content: string }[] }
    ).messages.map(({ role, content }) => [role, content]);

  beforeAll(async () => {
    stack = await startTestStack();
    token = await login(stack.baseUrl, stack.admin);
    fake = await startFakeProvider('OPENAI');
    const configId = await registerFakeConfig(call, 'openai', fake);
    repoId = (await call('POST', '/repo', { name: 'chat', aiConfigIds: [configId] })).body.id;
  });
  afterAll(async () => {
    await fake?.close();
    await stack?.close();
  });

  it('refuses a model the repository does not serve', async () => {
    const refused = await call('POST', '/conversation', { repositoryId: repoId, model: 'no-such-model' });
    expect([refused.status, refused.body.code]).toEqual([400, 'BAD_REQUEST']);
  });

  it('answers prompts with the history as context, streamed or not, and keeps every turn', async () => {
    const created = await call('POST', '/conversation', {
      repositoryId: repoId,
      model: 'gpt-4o-mini',
      title: 'Planning',
      systemPrompt: 'Be brief.',
    });
    expect(created.status).toBe(201);
    const id = created.body.id;

    const first = await call('POST', `/conversation/${id}/prompt`, { content: 'first question' });
    expect(first.status).toBe(200);
    expect(first.body.choices[0].message.content).toBe('Fake answer to: first question');
    expect(sentMessages()).toEqual([
      ['system', 'Be brief.'],
      ['user', 'first question'],
    ]);

    const streamed = await fetch(`${stack.baseUrl}/conversation/${id}/prompt`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'second question', stream: true }),
    });
    expect(streamed.headers.get('content-type')).toContain('text/event-stream');
    const events = (await streamed.text()).split('\n\n').filter((event) => event.startsWith('data: '));
    expect(events.at(-1)).toBe('data: [DONE]');
    const text = events
      .slice(0, -1)
      .map((event) => JSON.parse(event.slice(6)).choices[0]?.delta.content ?? '')
      .join('');
    expect(text).toBe('Fake answer to: second question');
    expect(sentMessages()).toEqual([
      ['system', 'Be brief.'],
      ['user', 'first question'],
      ['assistant', 'Fake answer to: first question'],
      ['user', 'second question'],
    ]);

    const messages = await call('GET', `/conversation/${id}/messages`);
    expect(
      messages.body.items.map((message: { role: string; content: string }) => [
        message.role,
        message.content,
      ]),
    ).toEqual([
      ['user', 'first question'],
      ['assistant', 'Fake answer to: first question'],
      ['user', 'second question'],
      ['assistant', 'Fake answer to: second question'],
    ]);
    const page = await call('GET', `/conversation/${id}/messages?after=2&limit=1`);
    expect(page.body.items.map((message: { sequence: number }) => message.sequence)).toEqual([3]);
    const listed = await call('GET', `/conversation?repositoryId=${repoId}`);
    expect(listed.body.items[0]).toMatchObject({ id, title: 'Planning', model: 'gpt-4o-mini' });

    await stack.apiUsage.flush();
    const usage = await stack.orm.em.fork().find(UsageEvent, { conversationId: id });
    expect(usage).toHaveLength(2);
    expect(usage[0]).toMatchObject({
      operation: 'ConversationPrompt',
      keyId: null,
      provider: 'OPENAI',
      status: 200,
    });
  });

  it('sends only the newest turns that fit the context allowance', async () => {
    const id = (
      await call('POST', '/conversation', { repositoryId: repoId, model: 'gpt-4o-mini', contextTokens: 300 })
    ).body.id;
    const long = 'word '.repeat(200);
    await call('POST', `/conversation/${id}/prompt`, { content: long });
    await call('POST', `/conversation/${id}/prompt`, { content: 'short one' });
    // The long turn and its answer no longer fit: only the prompt goes.
    expect(sentMessages()).toEqual([['user', 'short one']]);
    await call('POST', `/conversation/${id}/prompt`, { content: 'and another' });
    expect(sentMessages()).toEqual([
      ['user', 'short one'],
      ['assistant', 'Fake answer to: short one'],
      ['user', 'and another'],
    ]);
  });

  it('trims by the documented rule: whole turns, newest first, starting with a user turn', () => {
    const turns = [
      { role: 'user' as const, content: 'a'.repeat(400) },
      { role: 'assistant' as const, content: 'b'.repeat(40) },
      { role: 'user' as const, content: 'c'.repeat(40) },
      { role: 'assistant' as const, content: 'd'.repeat(40) },
    ];
    const allowance = estimateTokens('new') + 3 * estimateTokens('x'.repeat(40));
    expect(conversationContext(null, turns, 'new', allowance).map((message) => message.role)).toEqual([
      'user',
      'assistant',
      'user',
    ]);
    expect(conversationContext('sys', turns, 'new', 10_000)).toHaveLength(6);
  });

  it('answers provider failures as API problems and stores nothing', async () => {
    const id = (await call('POST', '/conversation', { repositoryId: repoId, model: 'gpt-4o-mini' })).body.id;
    fake.script({ kind: 'error', status: 503 }, { kind: 'error', status: 503 });
    const failed = await call('POST', `/conversation/${id}/prompt`, { content: 'will fail' });
    expect([failed.status, failed.body.code]).toEqual([503, 'UNAVAILABLE']);
    expect((await call('GET', `/conversation/${id}/messages`)).body.items).toEqual([]);
  });

  it("hides another organization's conversations", async () => {
    const id = (await call('POST', '/conversation', { repositoryId: repoId, model: 'gpt-4o-mini' })).body.id;
    const outsider = await api(stack.baseUrl, 'POST', '/auth/signup', {
      body: { email: 'someone@elsewhere.test', password: 'password-123', organizationName: 'Elsewhere' },
    });
    const as = (method: string, path: string, body?: unknown) =>
      api(stack.baseUrl, method, path, { token: outsider.body.token, body });
    expect((await as('GET', `/conversation/${id}/messages`)).status).toBe(404);
    expect((await as('POST', `/conversation/${id}/prompt`, { content: 'hi' })).status).toBe(404);
    expect((await as('GET', '/conversation')).body.items).toEqual([]);
    expect((await as('POST', '/conversation', { repositoryId: repoId, model: 'gpt-4o-mini' })).status).toBe(
      404,
    );
  });
});
