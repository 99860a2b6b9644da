/**
 * A TCP proxy in front of a backend, for tests that make the backend fail or
 * slow down on demand: `refuse()` stops listening (new connections are
 * refused, open ones are cut), `delay(ms)` holds every answer chunk back that
 * long (on open connections too), `pass()` relays as is again, on the same port.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  /** `http://127.0.0.1:<port>`: register this as the backend's endpoint. */
  endpoint: string;
  pass(): Promise<void>;
  refuse(): Promise<void>;
  delay(ms: number): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let delayMs = 0;
  const relay = (client: Socket) => {
    const upstream = createConnection(target);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (delayMs === 0) client.write(chunk);
      else setTimeout(() => client.writable && client.write(chunk), delayMs);
    });
    upstream.on('end', () => setTimeout(() => client.end(), delayMs));
  };
  let server: Server | undefined = createServer(relay);
  const port = await listen(server, 0);
  const cutAll = () => {
    for (const socket of sockets) socket.destroy();
  };
  const stopListening = async () => {
    const closing = server;
    server = undefined;
    cutAll();
    if (closing) await new Promise<void>((resolve) => closing.close(() => resolve()));
  };
  const pass = async () => {
    delayMs = 0;
    if (server) return;
    server = createServer(relay);
    await listen(server, port);
  };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    pass,
    refuse: stopListening,
    async delay(ms) {
      await pass();
      delayMs = ms;
    },
    close: stopListening,
  };
}

async function listen(server: Server, port: number): Promise<number> {
  server.listen(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP address');
  return address.port;
}
