/**
 * The sockets of one peer: REST on `port` (rest.ts) and the emulator's p2p protocol on `p2pPort`
 * (consensus.ts answers it; p2p.ts carries it). Under a simulation the p2p socket is still bound,
 * so ephemeral ports and "connection refused" behave as in a process, but peers reach each other
 * through the simulated network.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as consensus from './consensus.js';
import type { EmulatedPeer } from './peer.js';
import { handleRest } from './rest.js';

/** Binds the REST socket and, in cluster mode, the p2p socket; records the bound ports. */
export async function listen(peer: EmulatedPeer): Promise<void> {
  const rest = http.createServer((req, res) => {
    handleRest(peer, req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(err));
    });
  });
  peer.servers.push(rest);
  peer.boundPort = await listenOn(rest, peer.cfg.port, peer.cfg.host);
  if (peer.cfg.clusterEnabled) {
    const p2p = http.createServer((req, res) => {
      servePeerRequest(peer, req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: String(err) }));
      });
    });
    peer.servers.push(p2p);
    peer.boundP2pPort = await listenOn(p2p, peer.cfg.p2pPort, peer.cfg.host);
  }
}

async function servePeerRequest(peer: EmulatedPeer, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://p2p');
  const body = req.method === 'POST' ? (JSON.parse((await readBody(req)) || '{}') as Record<string, unknown>) : {};
  const answer = await consensus.dispatchP2p(peer, req.method === 'POST' ? 'POST' : 'GET', url.pathname, body);
  res.writeHead(answer.status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(answer.body));
}

/** Closes both sockets and the connections on them (clients then see connection refused). */
export async function closeServers(servers: http.Server[]): Promise<void> {
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeAllConnections();
        }),
    ),
  );
}

function listenOn(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export function readBody(req: http.IncomingMessage, limit = 1 << 20): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
