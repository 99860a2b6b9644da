/** .env.example documents every variable the configuration module reads, and nothing else. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configVariableNames } from '../../core/config.ts';

describe('.env.example', () => {
  it('lists exactly the variables core/config.ts validates', () => {
    const text = readFileSync(path.resolve(import.meta.dirname, '../../.env.example'), 'utf8');
    const documented = new Set([...text.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((match) => match[1]));
    expect([...documented].sort()).toEqual([...configVariableNames].sort());
  });
});
