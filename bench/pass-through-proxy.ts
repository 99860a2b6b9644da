/**
 * The floor for bench:s3: the least a user-space HTTP proxy can do between an
 * S3 client and MinIO. A `node:http` server that pipes each request to MinIO
 * and the answer back, headers untouched (so the client's signature still
 * holds), nothing checked, nothing metered. The bench runs it with the
 * bridge's own Node flags and compares the bridge with it as well as with
 * MinIO direct. Usage: node pass-through-proxy.ts <upstream port> <listen port>.
 */
import http from 'node:http';

const [upstreamPort, listenPort] = process.argv.slice(2).map(Number);
if (!upstreamPort || !listenPort)
  throw new Error('usage: pass-through-proxy.ts <upstream port> <listen port>');

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const server = http.createServer((req, res) => {
  const upstream = http.request(
    { host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers, agent },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on('error', () => res.destroy());
  req.pipe(upstream);
});
server.listen(listenPort, '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => process.exit(0));
