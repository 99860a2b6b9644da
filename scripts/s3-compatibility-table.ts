/**
 * `npm run docs:s3-compatibility`: README's S3 compatibility table, from what
 * the last `npm test` run drove through the bridge (test/results/s3-operations/,
 * written by test/helpers/s3-operation-log.ts). Rewrites the part of README.md
 * between the two markers.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { servedOperations } from '../bridge/s3/routing.ts';
import { type ObservedOperation, s3OperationsDir } from '../test/helpers/s3-operation-log.ts';
import { projectRoot } from './tools.ts';

const START = '<!-- s3-compatibility:start -->';
const END = '<!-- s3-compatibility:end -->';
const columns = [
  { title: 'S3 / S3-compatible (MinIO)', providers: ['S3', 'S3_COMPATIBLE'] },
  { title: 'GCS (fake-gcs-server)', providers: ['GCS'] },
  { title: 'Azure Blob (Azurite)', providers: ['AZURE'] },
];

async function observed(): Promise<Set<string>> {
  const files = await readdir(s3OperationsDir).catch(() => []);
  if (files.length === 0) throw new Error(`no results in ${s3OperationsDir}: run npm test first`);
  const seen = new Set<string>();
  for (const file of files) {
    const lines = JSON.parse(await readFile(path.join(s3OperationsDir, file), 'utf8')) as ObservedOperation[];
    for (const { operation, provider } of lines) seen.add(`${operation}@${provider}`);
  }
  return seen;
}

function table(seen: Set<string>): string {
  const header = `| operation | ${columns.map((column) => column.title).join(' | ')} |`;
  const rule = `| --- | ${columns.map(() => '---').join(' | ')} |`;
  const rows = servedOperations.map(({ name }) => {
    const cells = columns.map(({ providers }) =>
      [...providers, '*'].some((provider) => seen.has(`${name}@${provider}`))
        ? '✓ tested'
        : 'supported, untested',
    );
    return `| ${name} | ${cells.join(' | ')} |`;
  });
  return [header, rule, ...rows].join('\n');
}

const readmePath = path.join(projectRoot, 'README.md');
const readme = await readFile(readmePath, 'utf8');
const start = readme.indexOf(START);
const end = readme.indexOf(END);
if (start === -1 || end < start) throw new Error(`README.md lacks the ${START} … ${END} markers`);
const generated = `${START}\n${table(await observed())}\n${END}`;
await writeFile(readmePath, readme.slice(0, start) + generated + readme.slice(end + END.length));
// Aligned as the project's formatter (and `npm run lint`) wants markdown tables.
await promisify(execFile)(process.execPath, [
  path.join(projectRoot, 'node_modules/@biomejs/biome/bin/biome'),
  'format',
  '--write',
  readmePath,
]);
console.log('README.md: S3 compatibility table updated');
