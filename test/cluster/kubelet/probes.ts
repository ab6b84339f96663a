// Readiness, liveness and startup probes against the pod's own loopback address, as the kubelet runs them:
// httpGet (2xx/3xx pass; HTTPS without certificate checks), tcpSocket (connect), grpc (connect only).
// exec probes are not run (no container to exec into): they pass, and the stand-in logs that once per container.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

export interface ProbeResult {
  ok: boolean;
  message: string;
}

export function resolvePort(port: number | string, container: any): number {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  const named = (container.ports ?? []).find((p: any) => p.name === port);
  if (!named) throw new Error(`named port ${port} not found in container ${container.name}`);
  return named.containerPort;
}

function httpProbe(probe: any, podIP: string, container: any, timeoutMs: number): Promise<ProbeResult> {
  const g = probe.httpGet;
  const scheme = String(g.scheme ?? 'HTTP').toUpperCase();
  const port = resolvePort(g.port, container);
  const host = g.host || podIP;
  const headers: Record<string, string> = { 'user-agent': 'kube-probe/1.34' };
  for (const h of g.httpHeaders ?? []) headers[h.name] = h.value;
  const mod = scheme === 'HTTPS' ? https : http;
  return new Promise((resolve) => {
    const req = mod.request(
      { host, port, path: g.path ?? '/', method: 'GET', headers, timeout: timeoutMs, rejectUnauthorized: false, agent: false },
      (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        resolve({ ok: code >= 200 && code < 400, message: `HTTP probe ${host}:${port}${g.path ?? '/'} answered ${code}` });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs}ms`)));
    req.on('error', (err) => resolve({ ok: false, message: `HTTP probe ${host}:${port}${g.path ?? '/'} failed: ${err.message}` }));
    req.end();
  });
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (r: ProbeResult) => {
      sock.destroy();
      resolve(r);
    };
    sock.setTimeout(timeoutMs, () => done({ ok: false, message: `TCP probe ${host}:${port}: timeout` }));
    sock.once('connect', () => done({ ok: true, message: `TCP probe ${host}:${port} connected` }));
    sock.once('error', (err) => done({ ok: false, message: `TCP probe ${host}:${port} failed: ${err.message}` }));
  });
}

export async function runProbe(probe: any, podIP: string, container: any): Promise<ProbeResult> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  try {
    if (probe.httpGet) return await httpProbe(probe, podIP, container, timeoutMs);
    if (probe.tcpSocket) return await tcpProbe(probe.tcpSocket.host || podIP, resolvePort(probe.tcpSocket.port, container), timeoutMs);
    if (probe.grpc) return await tcpProbe(podIP, probe.grpc.port, timeoutMs);
    if (probe.exec) return { ok: true, message: 'exec probe not run by the kubelet stand-in (counted as passing)' };
    return { ok: false, message: 'probe has no handler' };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}
