/**
 * The emulator's own peer-to-peer protocol (Qdrant speaks gRPC on the p2p port; see index.ts):
 * the messages, and two ways to carry them. Over HTTP between processes (the e2e tier, main.ts),
 * or through an in-memory network under a simulation (sim.ts), where a request is a promise that
 * the simulated clock can time out, so a test replays the same exchange every run.
 */
import type { EmulatorClock } from './clock.js';
import type { LogEntry } from './wal.js';
import type { Role } from './peer-config.js';

export interface AppendRequest {
  peerId: string;
  term: number;
  lastIndex: number;
  lastTerm: number;
  /** The leader commit this follower already knows; equal and caught up = the leader may hold the request. */
  commit: number;
}

export interface SnapshotPayload {
  index: number;
  term: number;
  voters: string[];
  firstVoter?: string;
  peers: Array<[string, string]>;
  metadata: Array<[string, string]>;
  collections: Array<{
    name: string;
    shardNumber: number;
    replicationFactor: number;
    vectors: { size: number; distance: string };
    shards: Array<[number, Array<[string, string]>]>;
  }>;
}

export interface AppendResponse {
  ok?: boolean;
  notLeader?: boolean;
  conflict?: boolean;
  hint?: number;
  term: number;
  leaderId?: string;
  leaderUri?: string;
  commit?: number;
  entries?: LogEntry[];
  snapshot?: SnapshotPayload;
}

export interface VoteRequest {
  term: number;
  candidateId: string;
  lastIndex: number;
  lastTerm: number;
  /** The peer id the candidate means to ask (an address may now belong to another id). */
  voter?: string;
}

export interface VoteResponse {
  granted: boolean;
  term: number;
  peerId?: string;
}

export interface JoinRequest {
  peerId: string;
  uri: string;
  version?: string;
}

export interface StatusResponse {
  peerId: string;
  role: Role;
  term: number;
  leaderId?: string;
  commit: number;
  uri: string;
}

export interface P2pAnswer {
  status: number;
  body: unknown;
}

/** The server side of one peer: what its p2p port answers. */
export type P2pHandler = (method: 'GET' | 'POST', pathname: string, body: Record<string, unknown>) => Promise<P2pAnswer>;

export interface P2pRequest {
  /** `http://ip:port` the URI resolved to. */
  base: string;
  route: string;
  body?: unknown;
  timeoutMs: number;
  /** Aborted when the calling peer stops. */
  signal: AbortSignal;
}

/** A client for the p2p protocol. undefined = no usable answer (refused, timed out, error status). */
export interface P2pTransport {
  request<T>(req: P2pRequest): Promise<T | undefined>;
}

/** 409 carries an answer (a follower redirecting a proposal); other errors are "no answer". */
function usable(status: number): boolean {
  return (status >= 200 && status < 300) || status === 409;
}

export const httpTransport: P2pTransport = {
  async request<T>({ base, route, body, timeoutMs, signal }: P2pRequest): Promise<T | undefined> {
    try {
      const res = await fetch(base + route, {
        method: body === undefined ? 'GET' : 'POST',
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      });
      const text = await res.text();
      if (!usable(res.status)) return undefined;
      return JSON.parse(text) as T;
    } catch {
      return undefined;
    }
  },
};

/**
 * Peers of one simulation, by `ip:port` of their p2p listener. A peer that is stopped or
 * unreachable is simply absent (connection refused). Messages are copied through JSON, as on the
 * wire, so no object is shared between peers.
 */
export class SimNetwork implements P2pTransport {
  private readonly endpoints = new Map<string, P2pHandler>();

  constructor(private readonly clock: EmulatorClock) {}

  register(host: string, port: number, handler: P2pHandler): () => void {
    const key = `${host}:${port}`;
    this.endpoints.set(key, handler);
    return () => {
      if (this.endpoints.get(key) === handler) this.endpoints.delete(key);
    };
  }

  async request<T>({ base, route, body, timeoutMs, signal }: P2pRequest): Promise<T | undefined> {
    if (signal.aborted) return undefined;
    const url = new URL(base + route);
    const handler = this.endpoints.get(`${url.hostname}:${url.port || '80'}`);
    if (!handler) return undefined;
    const wire = body === undefined ? {} : (JSON.parse(JSON.stringify(body)) as Record<string, unknown>);
    let cancelTimer = () => {};
    let onAbort = () => {};
    const timedOut = new Promise<undefined>((resolve) => {
      cancelTimer = this.clock.after(timeoutMs, () => resolve(undefined));
      onAbort = () => resolve(undefined);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    const answered = handler(body === undefined ? 'GET' : 'POST', url.pathname, wire).then(
      (a) => (usable(a.status) ? (JSON.parse(JSON.stringify(a.body)) as T) : undefined),
      () => undefined,
    );
    try {
      return await Promise.race([answered, timedOut]);
    } finally {
      cancelTimer();
      signal.removeEventListener('abort', onAbort);
    }
  }
}
