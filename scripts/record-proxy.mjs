// A loopback recorder in front of Switchyard, for scripts/coding-agents.sh: every request's
// method, path and JSON body is appended to a JSON-lines file (header values that carry
// credentials are not written), then forwarded unchanged; the answer streams back unchanged.
//   node scripts/record-proxy.mjs <listen-port> <target-port> <out.jsonl>
import { appendFileSync } from 'node:fs';
import { request as forward, createServer } from 'node:http';

const [listenPort, targetPort, out] = process.argv.slice(2);
if (!listenPort || !targetPort || !out) {
  console.error('usage: record-proxy.mjs <listen-port> <target-port> <out.jsonl>');
  process.exit(2);
}
const SECRET = /^(authorization|x-api-key|api-key|cookie)$/i;

createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('error', () => res.destroy());
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    let json;
    try {
      json = body.length > 0 ? JSON.parse(body.toString('utf8')) : undefined;
    } catch {
      json = undefined;
    }
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([name]) => !SECRET.test(name)),
    );
    appendFileSync(
      out,
      `${JSON.stringify({ method: req.method, path: req.url, headers, body: json })}\n`,
    );
    const upstream = forward(
      {
        host: '127.0.0.1',
        port: Number(targetPort),
        method: req.method,
        path: req.url,
        headers: req.headers,
        timeout: 120_000,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('timeout', () => upstream.destroy(new Error('upstream timeout')));
    upstream.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: String(error.message) } }));
    });
    upstream.end(body);
  });
}).listen(Number(listenPort), '127.0.0.1');
