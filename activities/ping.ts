import { hostname } from 'node:os';
import type { PingReply } from '../workflows/definitions.ts';

export async function answerPing(message: string): Promise<PingReply> {
  return { echo: message, workerHost: hostname(), answeredAt: new Date().toISOString() };
}
