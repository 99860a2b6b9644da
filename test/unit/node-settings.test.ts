import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { BRIDGE_NODE_ARGS, WORKER_NODE_ARGS } from '../../scripts/services/node-settings.ts';

/** The `node` flags of a service's `command` in docker-compose.yml (the file keeps them by hand). */
function composeNodeFlags(compose: string, service: string): string[] {
  const block = compose.match(new RegExp(`\\n  ${service}:\\n([\\s\\S]*?)(?=\\n  [a-z-]+:\\n|$)`))?.[1];
  const command = block?.match(/command:\s*\[([\s\S]*?)\]/)?.[1];
  if (!command) throw new Error(`no command for ${service} in docker-compose.yml`);
  const words = [...command.matchAll(/"([^"]*)"/g)].map((match) => match[1]!);
  return words.filter((word) => word.startsWith('--'));
}

describe('docker-compose.yml', () => {
  it('starts the bridge and the worker with the Node settings npm start uses', async () => {
    const compose = await readFile(new URL('../../docker-compose.yml', import.meta.url), 'utf8');
    expect(composeNodeFlags(compose, 'bridge')).toEqual(BRIDGE_NODE_ARGS);
    expect(composeNodeFlags(compose, 'worker')).toEqual(WORKER_NODE_ARGS);
  });
});
