// The kubelet's HTTPS endpoint, one per node: the apiserver proxies `pods/log` here (GET /containerLogs/<ns>/<pod>/
// <container>), presenting its kubelet client certificate. Supports follow, previous, sinceSeconds, sinceTime,
// tailLines, timestamps and limitBytes. exec, attach and port-forward answer 501: there is no container to enter.
import fs from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseLine, parseLog, renderLine, selectLines, type LogLine } from './logs.js';
import type { LogTarget } from './pod-worker.js';
import { sleep, type Logger } from './util.js';

export interface LogSource {
  logTarget(namespace: string, pod: string, container: string, previous: boolean): LogTarget | { error: string; status: number };
}

export interface LogParams {
  follow: boolean;
  previous: boolean;
  timestamps: boolean;
  sinceMs?: number;
  tailLines?: number;
  limitBytes?: number;
}

function bool(v: string | null): boolean {
  return v === 'true' || v === '1';
}

/** Parses the query the apiserver forwards (`k8s.io/kubernetes/pkg/registry/core/pod/strategy.go` LogLocation). */
export function parseLogParams(q: URLSearchParams, now = Date.now()): LogParams | { error: string } {
  const p: LogParams = { follow: bool(q.get('follow')), previous: bool(q.get('previous')), timestamps: bool(q.get('timestamps')) };
  const int = (name: string): number | undefined | { error: string } => {
    const v = q.get(name);
    if (v === null || v === '') return undefined;
    if (!/^-?\d+$/.test(v)) return { error: `${name}=${v} is not an integer` };
    return Number(v);
  };
  const since = int('sinceSeconds');
  const tail = int('tailLines');
  const limit = int('limitBytes');
  for (const v of [since, tail, limit]) if (typeof v === 'object') return v;
  if (typeof since === 'number') p.sinceMs = now - since * 1000;
  const sinceTime = q.get('sinceTime');
  if (sinceTime) {
    const ms = Date.parse(sinceTime);
    if (Number.isNaN(ms)) return { error: `sinceTime=${sinceTime} is not RFC3339` };
    p.sinceMs = ms;
  }
  if (typeof tail === 'number' && tail >= 0) p.tailLines = tail;
  if (typeof limit === 'number' && limit > 0) p.limitBytes = limit;
  return p;
}

class Budget {
  constructor(private left: number | undefined) {}
  /** Writes as much of `s` as the byte limit allows; false once the limit is reached. */
  write(res: ServerResponse, s: string): boolean {
    if (this.left === undefined) {
      res.write(s);
      return true;
    }
    if (this.left <= 0) return false;
    const buf = Buffer.from(s, 'utf8');
    const part = buf.subarray(0, this.left);
    this.left -= part.length;
    res.write(part);
    return this.left > 0;
  }
}

async function serveLogs(res: ServerResponse, req: IncomingMessage, target: LogTarget, p: LogParams): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
  const budget = new Budget(p.limitBytes);
  const content = fs.readFileSync(target.file);
  // Only whole lines: a line still being written is picked up by the follow loop.
  const end = content.lastIndexOf(0x0a) + 1;
  let offset = end;
  const first = selectLines(parseLog(content.subarray(0, end).toString('utf8')), { sinceMs: p.sinceMs, tailLines: p.tailLines });
  let open = true;
  for (const l of first) if (!(open = budget.write(res, renderLine(l, p.timestamps)))) break;
  if (!p.follow || !open) return void res.end();

  let closed = false;
  req.on('close', () => (closed = true));
  let finished = !target.running;
  void target.finished.then(() => (finished = true));
  let partial = '';
  // Poll the file until the instance has exited and every byte it wrote has been sent (or the client goes away).
  for (;;) {
    if (closed) return;
    const wasFinished = finished;
    const stat = fs.statSync(target.file);
    if (stat.size > offset) {
      const fd = fs.openSync(target.file, 'r');
      const buf = Buffer.alloc(stat.size - offset);
      fs.readSync(fd, buf, 0, buf.length, offset);
      fs.closeSync(fd);
      offset = stat.size;
      const text = partial + buf.toString('utf8');
      const lastNl = text.lastIndexOf('\n');
      partial = text.slice(lastNl + 1);
      for (const raw of text.slice(0, lastNl + 1).split('\n')) {
        const l: LogLine | undefined = raw ? parseLine(raw) : undefined;
        if (!l || (p.sinceMs !== undefined && l.ms < p.sinceMs)) continue;
        if (!budget.write(res, renderLine(l, p.timestamps))) return void res.end();
      }
    } else if (wasFinished) {
      return void res.end();
    }
    await sleep(150);
  }
}

export function startKubeletServer(opts: {
  nodeName: string;
  port: number;
  host: string;
  cert: string;
  key: string;
  clientCa: string;
  logs: LogSource;
  log: Logger;
}): Promise<https.Server> {
  const server = https.createServer(
    // Only the apiserver (a client certificate of the cluster CA) may talk to the kubelet.
    { cert: opts.cert, key: opts.key, ca: opts.clientCa, requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const url = new URL(req.url ?? '/', 'https://kubelet');
      const fail = (status: number, message: string) => {
        if (!res.headersSent) res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(message);
      };
      try {
        if (url.pathname === '/healthz') return fail(200, 'ok');
        const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)\/?$/.exec(url.pathname);
        if (m && req.method === 'GET') {
          const [ns, pod, container] = m.slice(1).map(decodeURIComponent);
          const p = parseLogParams(url.searchParams);
          if ('error' in p) return fail(400, p.error);
          const target = opts.logs.logTarget(ns, pod, container, p.previous);
          if ('error' in target) return fail(target.status, target.error);
          serveLogs(res, req, target, p).catch((err) => {
            opts.log(`node ${opts.nodeName}: log stream ${url.pathname} failed: ${(err as Error).message}`);
            fail(500, (err as Error).message);
          });
          return;
        }
        if (/^\/(exec|attach|portForward|run)\//.test(url.pathname)) {
          return fail(501, `${url.pathname.split('/')[1]} is not supported by the kubelet stand-in (pods are local processes)`);
        }
        fail(404, `not found: ${url.pathname}`);
      } catch (err) {
        fail(500, (err as Error).message);
      }
    },
  );
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
