/** Configuration, timing and status types of one emulated peer (peer.ts). */
import type { EmulatorClock } from './clock.js';
import type { FaultSpec } from './faults.js';
import type { EmulatorLog } from './log.js';
import type { SimNetwork } from './p2p.js';
import type { Resolver } from './resolve.js';

export type Role = 'Follower' | 'Candidate' | 'Leader' | 'PreCandidate';

export interface Timing {
  /** Follower poll period (Qdrant's consensus tick is 100 ms; messages flow continuously). */
  pollMs: number;
  /** Base election timeout; each wait adds up to half of it at random. */
  electionTimeoutMs: number;
  /** Replay loop (#6229): one "Replaced metadata" line every loopMinMs..loopMaxMs ... */
  loopMinMs: number;
  loopMaxMs: number;
  /** ... and no more than loopCap lines per process lifetime. */
  loopCap: number;
  /** Timeout of one p2p request. */
  requestTimeoutMs: number;
}

export const DEFAULT_TIMING: Timing = {
  pollMs: 200,
  electionTimeoutMs: 1000,
  loopMinMs: 20,
  loopMaxMs: 50,
  loopCap: 600,
  requestTimeoutMs: 1000,
};

export interface CollectionSpec {
  name: string;
  shardNumber?: number;
  /** 0 or 'all' = one replica on every peer, including peers that join later. */
  replicationFactor?: number | 'all';
  vectors?: { size: number; distance: string };
}

export interface PeerConfig {
  name: string;
  host: string;
  port: number;
  p2pPort: number;
  storageDir: string;
  snapshotsDir?: string;
  version: string;
  commitSha: string;
  clusterEnabled: boolean;
  uri?: string;
  bootstrap?: string;
  apiKey?: string;
  readOnlyApiKey?: string;
  fault: FaultSpec;
  /** Id to use when this peer has no state (QDRANT__CLUSTER__PEER_ID, or a test's big id). */
  freshPeerId?: string;
  /** Created by the first peer of a new cluster (and by a single node); null = none. */
  defaultCollection: CollectionSpec | null;
  resolver: Resolver;
  log: EmulatorLog;
  timing: Timing;
  /** Real timers unless a simulation drives this peer (sim.ts). */
  clock?: EmulatorClock;
  /** The simulated p2p network; absent = JSON over HTTP between sockets. */
  network?: SimNetwork;
  /** Called when the peer panics after start-up (the process wrapper exits with `code`, 101 as Qdrant's panics). */
  onPanic?: (code: number) => void;
}

/** What tests and the cluster helper read without HTTP. */
export interface PeerStatus {
  peerId: string;
  running: boolean;
  role: Role;
  term: number;
  commit: number;
  applied: number;
  /** Last index in the log (above commit while an entry waits for a majority). */
  lastIndex: number;
  leaderId?: string;
  voters: string[];
  peers: Record<string, string>;
  metadata: Record<string, string>;
  collections: Record<string, Record<number, Record<string, string>>>;
  ready: boolean;
  looping: boolean;
  consensus: 'working' | 'stopped_with_err';
  fault: FaultSpec;
}
