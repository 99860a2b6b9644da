import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtEntry } from '../../scripts/build.ts';
import { BRIDGE_NODE_ARGS, WORKER_NODE_ARGS } from '../../scripts/services/node-settings.ts';
import { projectRoot } from '../../scripts/tools.ts';

/** The words of a service's `command` in docker-compose.yml (the file keeps them by hand). */
function composeCommand(compose: string, service: string): string[] {
  const block = compose.match(new RegExp(`\\n  ${service}:\\n([\\s\\S]*?)(?=\\n  [a-z-]+:\\n|$)`))?.[1];
  const command = block?.match(/command:\s*\[([\s\S]*?)\]/)?.[1];
  if (!command) throw new Error(`no command for ${service} in docker-compose.yml`);
  return [...command.matchAll(/"([^"]*)"/g)].map((match) => match[1]!);
}

const nodeFlags = (command: string[]) => command.filter((word) => word.startsWith('--'));
const entryOf = (command: string[]) => command.at(-1);
const compiled = (sourceEntry: string) => path.relative(projectRoot, builtEntry(sourceEntry));

describe('docker-compose.yml', () => {
  it('starts the bridge and the worker with the Node settings npm start uses', async () => {
    const compose = await readFile(new URL('../../docker-compose.yml', import.meta.url), 'utf8');
    expect(nodeFlags(composeCommand(compose, 'bridge'))).toEqual(BRIDGE_NODE_ARGS);
    expect(nodeFlags(composeCommand(compose, 'worker'))).toEqual(WORKER_NODE_ARGS);
  });

  it('runs the compiled entry points, as npm start does', async () => {
    const compose = await readFile(new URL('../../docker-compose.yml', import.meta.url), 'utf8');
    expect(entryOf(composeCommand(compose, 'api'))).toBe(compiled('api/main.ts'));
    expect(entryOf(composeCommand(compose, 'bridge'))).toBe(compiled('bridge/main.ts'));
    expect(entryOf(composeCommand(compose, 'worker'))).toBe(compiled('workers/main.ts'));
  });
});
