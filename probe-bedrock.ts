import { BedrockRuntimeClient, ConverseStreamCommand, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startFakeBedrock, fakeAwsCredentials } from './test/fakes/bedrock.ts';

const fake = await startFakeBedrock();
const client = new BedrockRuntimeClient({ region: 'us-east-1', endpoint: fake.origin, credentials: fakeAwsCredentials, maxAttempts: 1, requestHandler: new NodeHttpHandler({}) });
const input = { modelId: 'anthropic.claude-3-5-sonnet-20240620-v1:0', messages: [{ role: 'user' as const, content: [{ text: 'hi there' }] }] };
const c = await client.send(new ConverseCommand(input));
console.log(JSON.stringify(c));
async function run(label: string) {
  try {
    const out = await client.send(new ConverseStreamCommand(input));
    console.log(label, 'meta', out.$metadata);
    for await (const e of out.stream!) console.log(label, JSON.stringify(e));
    console.log(label, 'ended');
  } catch (e) {
    const x = e as any;
    console.log(label, 'ERR', x?.constructor?.name, x.name, x.message, x.$metadata, x.$fault, Object.keys(x), x.$response?.headers);
  }
}
await run('ok');
fake.script({ kind: 'stream-error', afterPieces: 2 }); await run('err');
fake.script({ kind: 'stream-drop', afterPieces: 2 }); await run('drop');
fake.script({ kind: 'error', status: 429, retryAfterSeconds: 7 }); await run('429');
try { await client.send(new ConverseCommand({...input, modelId: 'nope'})); } catch (e) { const x = e as any; console.log('nomodel', x.name, x.message, x.$metadata); }
await fake.close();
