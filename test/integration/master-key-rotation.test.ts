/** Rotating the master key re-seals every stored secret; afterwards the old key is no longer needed. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aiProviderConnection } from '../../core/ai/config-secrets.ts';
import { bucketConnection } from '../../core/buckets/credentials.ts';
import { AiLlmConfig, Bucket, RepoStorageKey } from '../../core/db/entities/index.ts';
import { openStorageKeySecret } from '../../core/keys/repo-keys.ts';
import { generateMasterKey, type MasterKeyring, parseMasterKeyring } from '../../core/secrets/keyring.ts';
import { rewrapAllSecrets } from '../../core/secrets/rotation.ts';
import { api, login, services, startTestStack, type TestStack } from '../helpers/context.ts';
import { minioBucketRegistration, uniqueBucketName } from '../helpers/emulator-buckets.ts';

describe('master key rotation', () => {
  let stack: TestStack;
  let storageSecret: string;

  beforeAll(async () => {
    stack = await startTestStack();
    const token = await login(stack.baseUrl, stack.admin);
    const call = (method: string, path: string, body?: unknown) =>
      api(stack.baseUrl, method, path, { token, body });
    const bucket = await call(
      'POST',
      '/bucket',
      await minioBucketRegistration({ name: uniqueBucketName('rotate') }),
    );
    await call('POST', '/ai/llm', {
      name: 'p',
      type: 'OPENAI',
      apiEndpoint: 'http://127.0.0.1:9/v1',
      apiKey: 'k-1',
      apiSecret: 's-1',
    });
    const repo = await call('POST', '/repo', { name: 'rotate', bucketIds: [bucket.body.id] });
    storageSecret = (await call('POST', `/repo/${repo.body.id}/apikey`, { name: 'k', scope: 'READ' })).body
      .secretAccessKey;
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('re-seals everything under the new key, after which the old key can go', async () => {
    const { id, keyBase64 } = generateMasterKey();
    const oldKeyLine = `${stack.keyring.activeKeyId}:${Buffer.from(stack.keyring.keyMaterial(stack.keyring.activeKeyId)!).toString('base64')}`;
    const both = parseMasterKeyring(`${id}:${keyBase64},${oldKeyLine}`);
    expect(await rewrapAllSecrets(stack.orm.em, both)).toEqual({ rewrapped: 4, alreadyCurrent: 0 });
    expect(await rewrapAllSecrets(stack.orm.em, both)).toEqual({ rewrapped: 0, alreadyCurrent: 4 });

    const onlyNew: MasterKeyring = parseMasterKeyring(`${id}:${keyBase64}`);
    const em = stack.orm.em.fork();
    const [bucket] = await em.find(Bucket, {}, { populate: ['credentials'] });
    const [config] = await em.find(AiLlmConfig, {}, { populate: ['apiKey', 'apiSecret'] });
    const [key] = await em.find(RepoStorageKey, {}, { populate: ['secret'] });
    if (!bucket || !config || !key) throw new Error('fixtures missing');
    expect(bucket.credentials.keyId).toBe(id);
    expect(bucketConnection(onlyNew, bucket).credentials).toMatchObject({
      secretAccessKey: services().minio.secretAccessKey,
    });
    expect(aiProviderConnection(onlyNew, config)).toMatchObject({ apiKey: 'k-1', apiSecret: 's-1' });
    expect(openStorageKeySecret(onlyNew, key.accessKeyId, key.secret)).toBe(storageSecret);
    expect(() => bucketConnection(stack.keyring, bucket)).toThrow(/key/i);
  });
});
