import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.ts';
import { temporalConnectionSettings } from '../../core/temporal-connection.ts';

describe('Temporal connection settings', () => {
  it('uses plain address and namespace for a self-hosted cluster', () => {
    const settings = temporalConnectionSettings(
      loadConfig([], { TEMPORAL_ADDRESS: 'temporal.internal:7233', TEMPORAL_NAMESPACE: 'skybridge' }),
    );
    expect(settings).toMatchObject({ address: 'temporal.internal:7233', namespace: 'skybridge' });
    expect(settings.apiKey).toBeUndefined();
    expect(settings.tls).toBeFalsy();
  });

  it('turns TLS on for a Temporal Cloud API key', () => {
    const settings = temporalConnectionSettings(
      loadConfig([], {
        TEMPORAL_ADDRESS: 'prod.acct.tmprl.cloud:7233',
        TEMPORAL_NAMESPACE: 'prod.acct',
        TEMPORAL_API_KEY: 'cloud-key',
      }),
    );
    expect(settings).toMatchObject({
      address: 'prod.acct.tmprl.cloud:7233',
      namespace: 'prod.acct',
      apiKey: 'cloud-key',
    });
    expect(settings.tls).toBeTruthy();
  });

  it('reads mTLS certificates named by path', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'temporal-tls-'));
    await writeFile(path.join(dir, 'client.crt'), 'CERT');
    await writeFile(path.join(dir, 'client.key'), 'KEY');
    const settings = temporalConnectionSettings(
      loadConfig([], {
        TEMPORAL_ADDRESS: 'prod.acct.tmprl.cloud:7233',
        TEMPORAL_TLS_CLIENT_CERT_PATH: path.join(dir, 'client.crt'),
        TEMPORAL_TLS_CLIENT_KEY_PATH: path.join(dir, 'client.key'),
      }),
    );
    const pair = (settings.tls as { clientCertPair?: { crt: Uint8Array; key: Uint8Array } }).clientCertPair;
    expect(Buffer.from(pair!.crt).toString()).toBe('CERT');
    expect(Buffer.from(pair!.key).toString()).toBe('KEY');
  });

  it('reads a TOML profile when TEMPORAL_CONFIG_FILE names one', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'temporal-profile-'));
    const file = path.join(dir, 'temporal.toml');
    await writeFile(
      file,
      '[profile.cloud]\naddress = "eu.acct.tmprl.cloud:7233"\nnamespace = "eu.acct"\napi_key = "k"\n',
    );
    const settings = temporalConnectionSettings(
      loadConfig([], { TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'cloud' }),
    );
    expect(settings).toMatchObject({
      address: 'eu.acct.tmprl.cloud:7233',
      namespace: 'eu.acct',
      apiKey: 'k',
    });
  });
});
