import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../core/config.ts';

const projectRoot = path.resolve(import.meta.dirname, '../..');

describe('configuration', () => {
  it('gives defaults for an empty environment', () => {
    const config = loadConfig([], {});
    expect(config.api.port).toBe(8080);
    expect(config.bridge).toEqual({ s3Port: 9000, openaiPort: 9100, processes: 1 });
    expect(config.temporal.namespace).toBe('default');
    expect(config.database.url).toBeUndefined();
  });

  it('names every malformed variable in one message, without echoing values', () => {
    const attempt = () =>
      loadConfig([], { API_PORT: 'eighty', DATABASE_URL: 'mysql://secret-password@db/x', LOG_LEVEL: 'loud' });
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (error) {
      const configError = error as ConfigError;
      expect(configError.variables.sort()).toEqual(['API_PORT', 'DATABASE_URL', 'LOG_LEVEL']);
      expect(configError.message).toContain('API_PORT');
      expect(configError.message).toContain('DATABASE_URL: must be a postgres:// or postgresql:// URL');
      expect(configError.message).not.toContain('secret-password');
    }
  });

  it('takes BRIDGE_PROCESSES as a count or `auto` (one per CPU), and refuses anything else', () => {
    expect(loadConfig([], { BRIDGE_PROCESSES: '4' }).bridge.processes).toBe(4);
    expect(loadConfig([], { BRIDGE_PROCESSES: 'auto' }).bridge.processes).toBe(
      Math.min(availableParallelism(), 64),
    );
    for (const bad of ['0', '-2', '1.5', 'many', '65'])
      expect(() => loadConfig([], { BRIDGE_PROCESSES: bad })).toThrow(/BRIDGE_PROCESSES/);
  });

  it('names each variable a component cannot run without', () => {
    expect(() => loadConfig(['database', 'temporal', 'jwt'], {})).toThrow(
      /DATABASE_URL: is required[\s\S]*TEMPORAL_ADDRESS: is required[\s\S]*JWT_SECRET: is required/,
    );
  });

  it('rejects a short JWT secret and a malformed Temporal address', () => {
    const attempt = () => loadConfig([], { JWT_SECRET: 'short', TEMPORAL_ADDRESS: 'not an address' });
    expect(attempt).toThrow(/JWT_SECRET: must be at least 32 characters/);
    expect(attempt).toThrow(/TEMPORAL_ADDRESS: must be host:port/);
  });

  it('passes TEMPORAL_* variables through for @temporalio/envconfig', () => {
    const config = loadConfig([], {
      TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233',
      TEMPORAL_API_KEY: 'k',
      HOME: '/x',
    });
    expect(config.temporal.envconfigVariables).toEqual({
      TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233',
      TEMPORAL_API_KEY: 'k',
    });
  });

  it.each([
    ['api', 'api/main.ts', true],
    ['bridge', 'bridge/main.ts', false],
    ['worker', 'workers/main.ts', true],
  ])('the %s process refuses to start with a bad variable and says which', (_name, entry, needsTemporal) => {
    const result = spawnSync(process.execPath, [path.join(projectRoot, entry)], {
      env: { PATH: process.env.PATH, API_PORT: '99999', BRIDGE_S3_PORT: 'x', WORKER_METRICS_PORT: '-1' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(78);
    expect(result.stderr).toContain('Invalid configuration');
    expect(result.stderr).toMatch(/DATABASE_URL: is required/);
    // The bridge serves traffic from PostgreSQL alone: it needs no Temporal.
    if (needsTemporal) expect(result.stderr).toMatch(/TEMPORAL_ADDRESS: is required/);
    else expect(result.stderr).not.toMatch(/TEMPORAL_ADDRESS/);
    expect(result.stderr).toMatch(/(API_PORT|BRIDGE_S3_PORT|WORKER_METRICS_PORT): /);
  });
});
