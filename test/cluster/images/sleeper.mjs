#!/usr/bin/env node
// The `local/sleeper` test image of the kubelet stand-in (a test double for a generic workload): an HTTP server on the
// pod's own address answering readiness, plus switches to exit, write files and print lines, so e2e tests can drive
// pod life cycles. Flags (all optional):
//   --port N                HTTP port (default 8080) on $STANDIN_POD_IP; GET /healthz, /readyz, /info
//   --ready-after-ms N      /readyz answers 503 until N ms after start
//   --exit-after-ms N       exit after N ms with --exit-code (default 0)
//   --exit-code N
//   --message TEXT          termination message, written to --message-file or $TERMINATION_MESSAGE_PATH
//   --message-file PATH
//   --print TEXT            print a line on stdout (repeatable); --stderr TEXT for stderr
//   --write PATH=CONTENT    write a file at start (repeatable), e.g. onto a mounted volume
//   --no-server             do not listen (a batch job)
//   --ignore-sigterm        keep running on SIGTERM (tests the grace period and SIGKILL)
import fs from 'node:fs';
import http from 'node:http';

const argv = process.argv.slice(2);
const opts = { port: 8080, readyAfter: 0, exitAfter: undefined, exitCode: 0, print: [], stderr: [], write: [] };
for (let i = 0; i < argv.length; i++) {
  const flag = argv[i];
  const next = () => {
    if (i + 1 >= argv.length) {
      console.error(`sleeper: ${flag} needs a value`);
      process.exit(2);
    }
    return argv[++i];
  };
  switch (flag) {
    case '--port': opts.port = Number(next()); break;
    case '--ready-after-ms': opts.readyAfter = Number(next()); break;
    case '--exit-after-ms': opts.exitAfter = Number(next()); break;
    case '--exit-code': opts.exitCode = Number(next()); break;
    case '--message': opts.message = next(); break;
    case '--message-file': opts.messageFile = next(); break;
    case '--print': opts.print.push(next()); break;
    case '--stderr': opts.stderr.push(next()); break;
    case '--write': opts.write.push(next()); break;
    case '--no-server': opts.noServer = true; break;
    case '--ignore-sigterm': opts.ignoreSigterm = true; break;
    default:
      console.error(`sleeper: unknown flag ${flag}`);
      process.exit(2);
  }
}

const started = Date.now();
const host = process.env.STANDIN_POD_IP || '127.0.0.1';
for (const line of opts.print) console.log(line);
for (const line of opts.stderr) console.error(line);
for (const w of opts.write) {
  const eq = w.indexOf('=');
  fs.writeFileSync(w.slice(0, eq), w.slice(eq + 1));
}

function finish(code) {
  const file = opts.messageFile || process.env.TERMINATION_MESSAGE_PATH;
  if (opts.message !== undefined && file) fs.writeFileSync(file, opts.message);
  process.exit(code);
}

if (!opts.noServer) {
  const server = http.createServer((req, res) => {
    const ready = Date.now() - started >= opts.readyAfter;
    if (req.url === '/healthz') return res.end('ok');
    if (req.url === '/readyz') {
      res.statusCode = ready ? 200 : 503;
      return res.end(ready ? 'ready' : 'not ready');
    }
    if (req.url === '/info') {
      res.setHeader('content-type', 'application/json');
      return res.end(JSON.stringify({ hostname: process.env.HOSTNAME, ip: host, port: opts.port, pid: process.pid }));
    }
    res.statusCode = 404;
    res.end('not found');
  });
  server.listen(opts.port, host, () => console.log(`sleeper listening on ${host}:${opts.port}`));
}
if (opts.exitAfter !== undefined) setTimeout(() => finish(opts.exitCode), opts.exitAfter);
else if (opts.noServer) finish(opts.exitCode);

process.on('SIGTERM', () => {
  console.log('sleeper: SIGTERM');
  if (!opts.ignoreSigterm) finish(0);
});
