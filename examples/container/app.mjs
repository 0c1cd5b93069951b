// The application of the example container: a stand-in for your own, answering
// GET /health with 200 on 127.0.0.1:$APP_PORT (default 8080). The health monitor that
// tsinetd serves on port 7101 asks it.
import { createServer } from 'node:http';

const port = Number(process.env.APP_PORT ?? 8080);
const server = createServer((req, res) => {
  const ok = req.url === '/health';
  res.writeHead(ok ? 200 : 404, { 'content-type': 'text/plain' });
  res.end(ok ? 'ok\n' : 'not found\n');
});
server.listen(port, '127.0.0.1', () => process.stderr.write(`app: listening on 127.0.0.1:${port}\n`));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
