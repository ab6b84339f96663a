/**
 * One emulated Qdrant peer for one "process lifetime": storage, consensus and the two HTTP servers.
 * Restarting a peer means stopping this object and starting a new one on the same storage dir
 * (see cluster.ts). The test-double caveats are listed in index.ts.
 *
 * Consensus: a small pull-based Raft of our own over HTTP on the p2p port (Qdrant speaks gRPC there).
 * Followers long-poll the leader with their last log index; the leader answers at once with the
 * entries they lack and its commit index (or holds the request until something changes), and
 * commits an entry once a majority of voters hold it. Peers without a leader retry every `pollMs`.
 * Elections use randomised timeouts, votes with the usual up-to-date check, and leader stickiness.
 * Phantom voters (a lost identity, #6229; a duplicate peer, #6348) therefore block quorum the way
 * they do in Qdrant.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { decode as decodeCbor } from 'cbor-x';
import { EmulatorLog, TARGET } from './log.js';
import type { FaultSpec } from './faults.js';
import {
  mintPeerId,
  parseRaftState,
  writeRaftState,
  serializeRaftState,
  type RaftStateFile,
} from './raft-state.js';
import { normaliseUri, resolveUrl, type Resolver } from './resolve.js';
import {
  ensureAliases,
  loadCollections,
  writeCollection,
  writeReplicaState,
  type CollectionState,
} from './storage.js';
import { hasStaleSelfMetadataBug, peerMetadataDebug, versionAtLeast } from './version.js';
import { Wal, type ConsensusOp, type LogEntry } from './wal.js';
import { handleRest } from './rest.js';

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

interface AppendRequest {
  peerId: string;
  term: number;
  lastIndex: number;
  lastTerm: number;
  /** The leader commit this follower already knows; equal and caught up = the leader may hold the request. */
  commit: number;
}

interface SnapshotPayload {
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

interface AppendResponse {
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class EmulatedPeer {
  readonly cfg: PeerConfig;
  readonly log: EmulatorLog;
  readonly wal: Wal;
  readonly statePath: string;
  readonly legacyStatePath: string;
  readonly startedAt = new Date();

  id = '0';
  term = 0;
  vote = '0';
  commit = 0;
  applied = 0;
  voters: string[] = [];
  firstVoter?: string;
  addresses = new Map<string, string>();
  metadata = new Map<string, { version: string }>();
  clusterMetadata?: Record<string, unknown>;
  snapshot = { index: 0, term: 0 };
  entries: LogEntry[] = [];
  collections = new Map<string, CollectionState>();

  role: Role = 'Follower';
  leaderId?: string;
  leaderUri?: string;
  /** Highest commit the leader told us about (readiness and lag). */
  leaderCommit = 0;
  private lastLeaderContact = Date.now();
  private electionDeadline = 0;
  private leaderPullFailures = 0;
  private lastPullError?: { uri: string; count: number; error: string; at: Date };

  // leader bookkeeping
  private matchIndex = new Map<string, number>();
  /** Followers' append requests held until the log or the commit changes (long poll). */
  private waiters = new Set<() => void>();
  private lastContact = new Map<string, number>();
  private leaderSince = 0;

  // membership and proposals
  private joining = false;
  private joinTarget?: string;
  private lastJoinLog = 0;
  private outbox: ConsensusOp[] = [];
  private selfUpdatesPending = false;

  // faults
  fault: FaultSpec;
  private faultSince = Date.now();
  private consensusErr?: string;
  private consensusLastUpdate = new Date();
  looping = false;
  private loopCount = 0;
  private loopEntries: Array<{ peerId: string; version: string }> = [];

  private servers: http.Server[] = [];
  private timers = new Set<NodeJS.Timeout>();
  private abort = new AbortController();
  private stopped = false;
  initialized = false;
  private lastPersisted = '';
  private standaloneWritten = false;
  /** True once a pull from the current leader succeeded (readiness needs it). */
  private synced = false;
  boundPort = 0;
  boundP2pPort = 0;

  private constructor(cfg: PeerConfig) {
    this.cfg = cfg;
    this.log = cfg.log;
    this.fault = cfg.fault;
    this.wal = new Wal(cfg.storageDir);
    this.statePath = path.join(cfg.storageDir, 'raft_state.json');
    this.legacyStatePath = path.join(cfg.storageDir, 'raft_state');
  }

  /** Starts a peer; rejects if the state file is unreadable (Qdrant panics then) or a port is taken. */
  static async start(cfg: PeerConfig): Promise<EmulatedPeer> {
    const peer = new EmulatedPeer(cfg);
    try {
      await peer.init();
    } catch (err) {
      await peer.stop();
      throw err;
    }
    return peer;
  }

  get selfUri(): string {
    return normaliseUri(this.cfg.uri ?? `http://${this.cfg.host}:${this.boundP2pPort || this.cfg.p2pPort}`);
  }

  get url(): string {
    return `http://${this.cfg.host}:${this.boundPort}`;
  }

  lastIndex(): number {
    return this.entries.length > 0 ? this.entries[this.entries.length - 1]!.index : this.snapshot.index;
  }

  termAt(index: number): number | undefined {
    if (index === 0) return 0;
    if (index === this.snapshot.index) return this.snapshot.term;
    const e = this.entries[index - this.snapshot.index - 1];
    return e && e.index === index ? e.term : undefined;
  }

  // ---------------------------------------------------------------- start-up

  private async init(): Promise<void> {
    const { cfg, log } = this;
    fs.mkdirSync(cfg.storageDir, { recursive: true });
    if (cfg.snapshotsDir) fs.mkdirSync(cfg.snapshotsDir, { recursive: true });
    log.info(TARGET.main, `Qdrant emulator (test double) starting: version ${cfg.version}, build ${cfg.commitSha.slice(0, 7)}`);
    log.info(TARGET.main, `Version: ${cfg.version}, build: ${cfg.commitSha.slice(0, 7)}`);

    if (this.fault.mode === 'unreachable') {
      log.warn(TARGET.main, 'QDRANT_EMULATOR_FAULT=unreachable: not listening on any port');
      return;
    }

    // Sockets are bound first so that the advertised p2p URI knows an ephemeral port; requests
    // get 503 until the state is loaded. Log lines keep Qdrant's order (state, then listeners).
    await this.listen();
    if (!cfg.clusterEnabled) {
      this.initStandalone();
    } else {
      this.initConsensusState();
    }
    ensureAliases(cfg.storageDir);
    this.log.info(TARGET.actix, `Qdrant HTTP listening on ${this.boundPort}`);
    if (cfg.clusterEnabled) {
      this.log.info(TARGET.main, `Qdrant internal (emulated p2p over HTTP) listening on ${this.boundP2pPort}`);
    }
    this.initialized = true;
    if (cfg.clusterEnabled && !this.looping) this.startConsensus();
  }

  private loadStateFile(): RaftStateFile | undefined {
    if (fs.existsSync(this.statePath)) {
      this.log.info(TARGET.persistent, `Loading raft state from ${this.statePath}`);
      const text = fs.readFileSync(this.statePath, 'utf8');
      try {
        return parseRaftState(text);
      } catch (err) {
        this.log.error(TARGET.main, `Panic occurred in file src/main.rs: Can't initialize consensus: ${(err as Error).message}`);
        throw new Error(`cannot load ${this.statePath}: ${(err as Error).message}`);
      }
    }
    if (fs.existsSync(this.legacyStatePath)) {
      // reference/qdrant.md §1: the legacy CBOR file is read only when the JSON one is absent.
      this.log.info(TARGET.persistent, `Loading raft state from ${this.legacyStatePath}`);
      const legacy = decodeLegacyState(fs.readFileSync(this.legacyStatePath));
      if (legacy) return legacy;
      this.log.warn(TARGET.persistent, `Legacy raft state at ${this.legacyStatePath} is not decodable by the emulator; minting a new id`);
      return undefined;
    }
    return undefined;
  }

  private initStandalone(): void {
    const { cfg, log } = this;
    const loaded = this.loadStateFile();
    if (loaded) {
      this.restoreFrom(loaded);
      if (!fs.existsSync(this.statePath)) this.persist(true); // migrated from the legacy file
      this.standaloneWritten = true;
    } else {
      log.info(TARGET.persistent, `Initializing new raft state at ${this.statePath}`);
      this.id = cfg.freshPeerId ?? mintPeerId();
      this.voters = [this.id];
      this.firstVoter = this.id;
      this.persist(true);
    }
    log.info(TARGET.main, 'Distributed mode disabled');
    this.role = 'Leader';
    this.collections = loadCollections(cfg.storageDir);
    if (this.collections.size === 0 && cfg.defaultCollection && !loaded) {
      const c = toCollectionState(cfg.defaultCollection);
      for (const shard of c.shards.values()) shard.set(this.id, 'Active');
      this.collections.set(c.name, c);
      writeCollection(cfg.storageDir, c, this.id, 1);
    }
  }

  private initConsensusState(): void {
    const { cfg, log } = this;
    const walEntries = this.wal.read();
    const forcedLoss = this.fault.mode === 'metadata-loop';
    const newIdentity = this.fault.mode === 'new-peer-id';
    const loaded = forcedLoss || newIdentity ? undefined : this.loadStateFile();

    if (loaded) {
      this.restoreFrom(loaded);
      const commit = this.commit;
      const kept = walEntries.filter((e) => e.index > this.snapshot.index && e.index <= Math.max(commit, lastOf(walEntries)));
      if (commit > lastOf(walEntries) || (kept.length > 0 && kept[0]!.index !== this.snapshot.index + 1)) {
        // No WAL (a state file seeded by a test) or a gap: treat everything up to commit as a snapshot.
        this.snapshot = { index: commit, term: this.term };
        this.entries = [];
        this.wal.rewrite([]);
      } else {
        this.entries = kept;
      }
      this.applied = this.commit;
      this.collections = loadCollections(cfg.storageDir);
      if (!fs.existsSync(this.statePath)) this.persist(true);
      if (this.isLonePhantomHost() && walEntries.some((e) => e.op.type === 'UpdatePeerMetadata')) {
        this.startReplayLoop(walEntries, false);
      }
      return;
    }

    log.info(TARGET.persistent, `Initializing new raft state at ${this.statePath}`);
    this.id = newIdentity || forcedLoss ? mintPeerId() : (cfg.freshPeerId ?? mintPeerId());
    this.term = 0;
    this.vote = '0';
    this.commit = 0;

    if (forcedLoss || (Wal.exists(cfg.storageDir) && !newIdentity)) {
      // reference/qdrant.md §4: a used volume without its state file: new id, old WAL replayed.
      // A WAL dir in a framing we cannot read still counts as used; the old identity is invented.
      this.persist(true);
      this.startReplayLoop(walEntries, true);
      return;
    }
    if (newIdentity) {
      // #6348: same URI, new id. Forget the old log; the cluster's log comes back from the leader.
      const old = fs.existsSync(this.statePath) ? safeParse(fs.readFileSync(this.statePath, 'utf8')) : undefined;
      this.wal.rewrite([]);
      const others = old ? [...old.peerAddressById].filter(([pid, uri]) => pid !== old.thisPeerId && normaliseUri(uri) !== this.selfUri) : [];
      this.joinTarget = cfg.bootstrap ?? others[0]?.[1];
    }
    this.persist(true);
  }

  private restoreFrom(s: RaftStateFile): void {
    this.id = s.thisPeerId;
    this.term = safeNumber(s.hardState.term);
    this.vote = s.hardState.vote;
    this.commit = safeNumber(s.hardState.commit);
    this.voters = [...s.confState.voters];
    this.firstVoter = s.firstVoter;
    this.addresses = new Map(s.peerAddressById);
    this.metadata = new Map(s.peerMetadataById ?? []);
    this.clusterMetadata = s.clusterMetadata;
    this.snapshot = { index: safeNumber(s.latestSnapshotMeta.index), term: safeNumber(s.latestSnapshotMeta.term) };
    this.applied = this.commit;
  }

  /** All voters other than us share our own URI: we are alone with phantoms of ourselves (#6229). */
  private isLonePhantomHost(): boolean {
    const mine = this.addresses.get(this.id) ?? this.selfUri;
    const others = this.voters.filter((v) => v !== this.id);
    return others.length > 0 && others.every((v) => this.addresses.get(v) === mine);
  }

  private startConsensus(): void {
    const { cfg } = this;
    const fresh = this.voters.length === 0 && this.lastIndex() === 0;
    if (fresh && this.joinTarget === undefined && !cfg.bootstrap) {
      this.bootstrapNewCluster();
    } else if (fresh) {
      this.joining = true;
      this.joinTarget ??= cfg.bootstrap;
    } else {
      // --uri and --bootstrap are ignored once a state exists (§5), except that a changed own
      // address is announced to the cluster, and a new version is recorded in peer metadata.
      this.selfUpdatesPending = true;
      this.resetElectionTimer(true);
    }
    this.loop(() => this.tick());
    if (this.fault.mode === 'lagging' && this.fault.durationMs !== undefined) this.scheduleHeal(this.fault.durationMs);
    if (this.fault.mode === 'consensus-stopped') this.stopConsensusThread(this.fault.err);
    if (this.fault.mode === 'shards-dead') this.queueShardStateFault();
  }

  private bootstrapNewCluster(): void {
    const { cfg } = this;
    this.term = 1;
    this.vote = this.id;
    this.voters = [this.id];
    this.firstVoter = this.id;
    this.becomeLeader(false);
    this.appendLocal({ type: 'AddPeer', peerId: this.id, uri: this.selfUri });
    if (versionAtLeast(cfg.version, '1.8.0')) {
      this.appendLocal({ type: 'UpdatePeerMetadata', peerId: this.id, version: cfg.version });
    }
    if (cfg.defaultCollection) {
      const c = toCollectionState(cfg.defaultCollection);
      this.appendLocal({
        type: 'CreateCollection',
        name: c.name,
        shardNumber: c.shardNumber,
        replicationFactor: c.replicationFactor,
        vectors: c.vectors,
      });
      for (let s = 0; s < c.shardNumber; s++) {
        this.appendLocal({ type: 'SetReplica', collection: c.name, shardId: s, peerId: this.id, state: 'Active' });
      }
    }
  }

  // ---------------------------------------------------------------- #6229 replay loop

  private startReplayLoop(walEntries: LogEntry[], fresh: boolean): void {
    const { cfg, log } = this;
    this.looping = true;
    this.role = 'Candidate';
    this.term = Math.max(this.term, 1);
    this.leaderId = undefined;
    if (fresh) {
      this.voters = [this.id];
      this.firstVoter = this.id;
      this.addresses.set(this.id, this.selfUri);
      for (const e of walEntries) this.apply(e.op, false);
      if (!this.voters.includes(this.id)) this.voters.unshift(this.id);
      this.entries = walEntries;
      this.commit = lastOf(walEntries);
      this.applied = 0;
    }
    this.loopEntries = walEntries
      .filter((e): e is LogEntry & { op: { type: 'UpdatePeerMetadata'; peerId: string; version: string } } => e.op.type === 'UpdatePeerMetadata')
      .map((e) => ({ peerId: e.op.peerId, version: e.op.version }));
    if (this.loopEntries.length === 0) {
      // Forced by QDRANT_EMULATOR_FAULT on a volume without history, or a WAL we cannot read:
      // invent the old identity.
      const phantom = mintPeerId();
      this.addresses.set(phantom, this.selfUri);
      this.voters.push(phantom);
      this.metadata.set(phantom, { version: cfg.version });
      this.loopEntries = [{ peerId: phantom, version: cfg.version }];
      this.commit = Math.max(this.commit, 3);
    }
    this.persist(true);
    log.info(TARGET.consensus, `Replaying ${walEntries.length} consensus log entries from ${this.wal.file}`);
    const step = () => {
      if (this.stopped || !this.looping) return;
      if (this.loopCount >= cfg.timing.loopCap) return;
      const e = this.loopEntries[this.loopCount % this.loopEntries.length]!;
      this.loopCount++;
      this.metadata.set(e.peerId, { version: e.version });
      log.info(
        TARGET.persistent,
        `Replaced metadata of peer ${e.peerId} from ${peerMetadataDebug(e.version)} to ${peerMetadataDebug(e.version)}`,
      );
      this.persist(true); // Qdrant fsyncs the state on every applied entry
      const { loopMinMs, loopMaxMs } = cfg.timing;
      this.after(loopMinMs + Math.random() * (loopMaxMs - loopMinMs), step);
    };
    this.after(cfg.timing.loopMinMs, step);
  }

  // ---------------------------------------------------------------- servers

  private async listen(): Promise<void> {
    const rest = http.createServer((req, res) => {
      handleRest(this, req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(err));
      });
    });
    this.servers.push(rest);
    this.boundPort = await listenOn(rest, this.cfg.port, this.cfg.host);
    if (this.cfg.clusterEnabled) {
      const p2p = http.createServer((req, res) => {
        this.handleP2p(req, res).catch((err: unknown) => {
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: String(err) }));
        });
      });
      this.servers.push(p2p);
      this.boundP2pPort = await listenOn(p2p, this.cfg.p2pPort, this.cfg.host);
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    this.notifyFollowers();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
    this.servers = [];
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Runs `fn` again after the delay it returns, never two at once. */
  private loop(fn: () => Promise<number>): void {
    const run = async () => {
      if (this.stopped) return;
      let next = this.cfg.timing.pollMs;
      try {
        next = await fn();
      } catch (err) {
        if (!this.stopped) this.log.warn(TARGET.consensus, `consensus tick failed: ${(err as Error).message}`);
      }
      this.after(next, run);
    };
    this.after(this.cfg.timing.pollMs, run);
  }

  /** Wakes the followers' held append requests: the log or the commit changed. */
  private notifyFollowers(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  private waitForChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.waiters.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  private after(ms: number, fn: () => void): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  // ---------------------------------------------------------------- faults

  /** Runtime faults (the start-up ones are handled by restarting, see cluster.ts). */
  setFault(spec: FaultSpec): void {
    const before = this.fault;
    this.fault = spec;
    this.faultSince = Date.now();
    this.log.warn(TARGET.main, `emulator fault mode: ${spec.mode}`);
    if (before.mode === 'consensus-stopped' && spec.mode !== 'consensus-stopped') {
      this.consensusErr = undefined;
      this.consensusLastUpdate = new Date();
      this.resetElectionTimer(true);
    }
    if (spec.mode === 'consensus-stopped') this.stopConsensusThread(spec.err);
    if (spec.mode === 'lagging' && spec.durationMs !== undefined) this.scheduleHeal(spec.durationMs);
    if (spec.mode === 'shards-dead') this.queueShardStateFault();
    if (before.mode === 'shards-dead' && spec.mode !== 'shards-dead') this.queueShardState('Active');
  }

  private scheduleHeal(ms: number): void {
    const since = this.faultSince;
    this.after(ms, () => {
      if (this.fault.mode === 'lagging' && this.faultSince === since) {
        this.fault = { mode: 'healthy' };
        this.log.info(TARGET.main, 'emulator fault mode: healthy (lag over)');
      }
    });
  }

  private stopConsensusThread(err?: string): void {
    this.consensusErr = err ?? 'Consensus thread stopped: emulated fault (QDRANT_EMULATOR_FAULT=consensus-stopped)';
    this.log.error(TARGET.consensus, `Consensus stopped with error: ${this.consensusErr}`);
  }

  private queueShardStateFault(): void {
    this.queueShardState(this.fault.shardState ?? 'Dead');
  }

  private queueShardState(state: string): void {
    // Proposed even when the local view already shows `state`: an earlier proposal may still be
    // on its way and would otherwise win.
    if (this.cfg.clusterEnabled) {
      for (const c of this.collections.values()) {
        for (const [shardId, replicas] of c.shards) {
          if (replicas.has(this.id)) this.propose({ type: 'SetReplica', collection: c.name, shardId, peerId: this.id, state });
        }
      }
    } else {
      for (const c of this.collections.values()) {
        for (const [shardId, replicas] of c.shards) {
          if (replicas.has(this.id)) {
            replicas.set(this.id, state);
            writeReplicaState(this.cfg.storageDir, c, shardId, this.id);
          }
        }
      }
    }
  }

  get consensusStopped(): boolean {
    return this.consensusErr !== undefined;
  }

  // ---------------------------------------------------------------- what the REST API reports

  /** Commit and pending operations as reported, lag fault included. */
  reportedRaft(): { commit: number; pending: number } {
    let commit = this.commit;
    let pending = Math.max(0, this.commit - this.applied);
    if (this.fault.mode === 'lagging') {
      const lag = this.fault.lagEntries ?? 3;
      commit = Math.max(0, this.commit - lag);
      pending = Math.max(pending, lag);
    }
    return { commit, pending };
  }

  consensusThreadStatus(): { consensus_thread_status: string; err?: string; last_update?: string } {
    if (this.consensusErr) return { consensus_thread_status: 'stopped_with_err', err: this.consensusErr };
    return { consensus_thread_status: 'working', last_update: this.consensusLastUpdate.toISOString() };
  }

  messageSendFailures(): Record<string, { count: number; latest_error: string; latest_error_timestamp: string }> {
    const out: Record<string, { count: number; latest_error: string; latest_error_timestamp: string }> = {};
    const now = Date.now();
    const after = Math.max(3 * this.cfg.timing.pollMs, 1000);
    if (this.role === 'Leader' && this.cfg.clusterEnabled) {
      for (const v of this.voters) {
        if (v === this.id) continue;
        const seen = this.lastContact.get(v) ?? this.leaderSince;
        const silent = now - seen;
        const uri = this.addresses.get(v);
        if (silent > after && uri && uri !== this.selfUri) {
          out[uri] = {
            count: Math.max(1, Math.floor(silent / this.cfg.timing.pollMs)),
            latest_error: `Failed to send message to ${uri}: status: Unavailable, message: "peer did not answer"`,
            latest_error_timestamp: new Date(now).toISOString(),
          };
        }
      }
    } else if (this.lastPullError) {
      out[this.lastPullError.uri] = {
        count: this.lastPullError.count,
        latest_error: this.lastPullError.error,
        latest_error_timestamp: this.lastPullError.at.toISOString(),
      };
    }
    return out;
  }

  /** /readyz in cluster mode: caught up with the cluster commit and local shards active (§3). */
  isReady(): boolean {
    const { mode } = this.fault;
    if (mode === 'not-ready' || mode === 'lagging' || mode === 'shards-dead' || this.looping) return false;
    const localActive = [...this.collections.values()].every((c) =>
      [...c.shards.values()].every((r) => !r.has(this.id) || r.get(this.id) === 'Active'),
    );
    if (!localActive) return false;
    if (!this.cfg.clusterEnabled) return true;
    if (this.consensusStopped) return true; // readiness was decided before the thread died
    if (!this.leaderId || !this.voters.includes(this.id)) return false;
    if (this.role === 'Leader') return this.applied >= this.commit;
    return this.synced && this.applied >= this.leaderCommit;
  }

  status(): PeerStatus {
    const collections: PeerStatus['collections'] = {};
    for (const c of this.collections.values()) {
      collections[c.name] = {};
      for (const [s, r] of c.shards) collections[c.name]![s] = Object.fromEntries(r);
    }
    return {
      peerId: this.id,
      running: !this.stopped,
      role: this.role,
      term: this.term,
      commit: this.commit,
      applied: this.applied,
      lastIndex: this.lastIndex(),
      ...(this.leaderId ? { leaderId: this.leaderId } : {}),
      voters: [...this.voters],
      peers: Object.fromEntries(this.addresses),
      metadata: Object.fromEntries([...this.metadata].map(([k, v]) => [k, v.version])),
      collections,
      ready: this.isReady(),
      looping: this.looping,
      consensus: this.consensusStopped ? 'stopped_with_err' : 'working',
      fault: this.fault,
    };
  }

  // ---------------------------------------------------------------- persistence

  toStateFile(): RaftStateFile {
    const clusterOn = this.cfg.clusterEnabled;
    const caughtUp = clusterOn && (this.commit > 0 || this.applied > 0);
    return {
      hardState: { term: String(this.term), vote: this.vote, commit: String(this.commit) },
      confState: { voters: [...this.voters], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
      latestSnapshotMeta: { term: String(this.snapshot.term), index: String(this.snapshot.index) },
      applyProgressQueue: caughtUp ? [String(this.applied + 1), String(this.commit)] : null,
      ...(this.firstVoter !== undefined ? { firstVoter: this.firstVoter } : {}),
      peerAddressById: clusterOn ? new Map(this.addresses) : new Map(),
      peerMetadataById: clusterOn ? new Map(this.metadata) : new Map(),
      ...(this.clusterMetadata ? { clusterMetadata: this.clusterMetadata } : {}),
      thisPeerId: this.id,
    };
  }

  /** Rewrites raft_state.json when it changed (Qdrant rewrites it on every applied entry). */
  persist(force = false): void {
    const s = this.toStateFile();
    const text = serializeRaftState(s, this.cfg.version);
    if (!force && text === this.lastPersisted) return;
    if (!this.cfg.clusterEnabled && this.standaloneWritten) return; // written once, then static (§1)
    writeRaftState(this.cfg.storageDir, s, this.cfg.version);
    this.lastPersisted = text;
    this.standaloneWritten = !this.cfg.clusterEnabled;
  }

  // ---------------------------------------------------------------- applying entries

  apply(op: ConsensusOp, writeFiles = true): void {
    const { log, cfg } = this;
    switch (op.type) {
      case 'Empty':
        return;
      case 'AddPeer': {
        const uri = normaliseUri(op.uri);
        const prev = this.addresses.get(op.peerId);
        if (prev !== undefined && prev !== uri) {
          log.warn(TARGET.persistent, `Replaced address of peer ${op.peerId} from ${prev} to ${uri}`);
        }
        this.addresses.set(op.peerId, uri);
        if (!this.voters.includes(op.peerId)) this.voters.push(op.peerId);
        this.firstVoter ??= op.peerId;
        if (writeFiles) this.replicateAllTo(op.peerId);
        return;
      }
      case 'UpdatePeerMetadata': {
        if (!versionAtLeast(cfg.version, '1.8.0')) return;
        const prev = this.metadata.get(op.peerId);
        this.metadata.set(op.peerId, { version: op.version });
        if (prev) {
          log.info(
            TARGET.persistent,
            `Replaced metadata of peer ${op.peerId} from ${peerMetadataDebug(prev.version)} to ${peerMetadataDebug(op.version)}`,
          );
        }
        return;
      }
      case 'CreateCollection': {
        if (this.collections.has(op.name)) return;
        const c: CollectionState = {
          name: op.name,
          shardNumber: op.shardNumber,
          replicationFactor: op.replicationFactor,
          vectors: op.vectors,
          shards: new Map(Array.from({ length: op.shardNumber }, (_, s) => [s, new Map<string, string>()])),
        };
        this.collections.set(op.name, c);
        log.info(TARGET.toc, `Creating collection ${op.name}`);
        if (writeFiles) writeCollection(cfg.storageDir, c, this.id, this.voters.length);
        return;
      }
      case 'SetReplica': {
        const c = this.collections.get(op.collection);
        if (!c) return;
        const replicas = c.shards.get(op.shardId) ?? new Map<string, string>();
        c.shards.set(op.shardId, replicas);
        const prev = replicas.get(op.peerId);
        replicas.set(op.peerId, op.state);
        if (prev && prev !== op.state) {
          log.info(TARGET.collection, `Changing shard ${op.collection}:${op.shardId} replica state of peer ${op.peerId} from ${prev} to ${op.state}`);
        }
        if (writeFiles) writeReplicaState(cfg.storageDir, c, op.shardId, this.id);
        return;
      }
    }
  }

  /**
   * The leader gives a newly added peer a replica of every "replicate to all" collection, as if a
   * shard transfer had completed at once (transfers are not emulated).
   */
  private replicateAllTo(peerId: string): void {
    if (this.role !== 'Leader') return;
    for (const c of this.collections.values()) {
      for (const [shardId, replicas] of c.shards) {
        const wanted = c.replicationFactor === 0 ? Infinity : c.replicationFactor;
        if (!replicas.has(peerId) && replicas.size < wanted) {
          this.outbox.push({ type: 'SetReplica', collection: c.name, shardId, peerId, state: 'Active' });
        }
      }
    }
  }

  private applyCommitted(): void {
    let changed = false;
    while (this.applied < this.commit) {
      const e = this.entries[this.applied + 1 - this.snapshot.index - 1];
      if (!e || e.index !== this.applied + 1) break;
      this.apply(e.op);
      this.applied++;
      changed = true;
    }
    if (changed) this.consensusLastUpdate = new Date();
    this.persist();
  }

  private appendLocal(op: ConsensusOp): number {
    const entry: LogEntry = { index: this.lastIndex() + 1, term: this.term, op };
    this.entries.push(entry);
    this.wal.append([entry]);
    this.notifyFollowers();
    this.advanceCommit();
    return entry.index;
  }

  private advanceCommit(): void {
    if (this.role !== 'Leader') return;
    if (!this.voters.includes(this.id)) return;
    const matches = this.voters
      .map((v) => (v === this.id ? this.lastIndex() : (this.matchIndex.get(v) ?? 0)))
      .sort((a, b) => b - a);
    const majority = matches[Math.floor(this.voters.length / 2)] ?? 0;
    if (majority > this.commit && this.termAt(majority) === this.term) {
      this.commit = majority;
      this.leaderCommit = this.commit;
      this.notifyFollowers();
    }
    this.applyCommitted();
    if (this.outbox.length > 0) {
      const ops = this.outbox.splice(0);
      for (const op of ops) this.appendLocal(op);
    }
  }

  /** Proposes an operation through the leader (sent on the next tick when we are a follower). */
  propose(op: ConsensusOp): void {
    if (!this.cfg.clusterEnabled) {
      this.apply(op);
      return;
    }
    if (this.role === 'Leader' && !this.consensusStopped) this.appendLocal(op);
    else this.outbox.push(op);
  }

  // ---------------------------------------------------------------- roles and elections

  private becomeLeader(appendEmpty = true): void {
    this.role = 'Leader';
    this.leaderId = this.id;
    this.leaderUri = this.selfUri;
    this.leaderSince = Date.now();
    this.matchIndex.clear();
    this.lastContact.clear();
    this.lastPullError = undefined;
    this.log.info(TARGET.raft, `became leader at term ${this.term}, raft_id: ${this.id}`);
    if (appendEmpty) this.appendLocal({ type: 'Empty' });
    this.persist();
  }

  private stepDown(term: number, leaderId?: string): void {
    if (term > this.term) {
      this.term = term;
      this.vote = '0';
    }
    if (this.role !== 'Follower') this.log.info(TARGET.raft, `became follower at term ${this.term}, raft_id: ${this.id}`);
    this.role = 'Follower';
    this.leaderId = leaderId;
    this.leaderUri = leaderId ? this.addresses.get(leaderId) : undefined;
    this.notifyFollowers();
    this.persist();
  }

  private resetElectionTimer(contact = false): void {
    const base = this.cfg.timing.electionTimeoutMs;
    if (contact) this.lastLeaderContact = Date.now();
    this.electionDeadline = Date.now() + base + Math.random() * (base / 2);
  }

  private async campaign(): Promise<void> {
    this.term += 1;
    this.vote = this.id;
    this.role = 'Candidate';
    this.leaderId = undefined;
    this.leaderUri = undefined;
    const term = this.term;
    this.persist();
    this.log.info(TARGET.raft, `became candidate at term ${term}, raft_id: ${this.id}`);
    const others = this.voters.filter((v) => v !== this.id);
    const body = { term, candidateId: this.id, lastIndex: this.lastIndex(), lastTerm: this.termAt(this.lastIndex()) ?? 0 };
    const answers = await Promise.all(
      others.map(async (v) => {
        const uri = this.addresses.get(v);
        if (!uri) return undefined;
        return this.p2p<{ granted: boolean; term: number; peerId?: string }>(uri, '/p2p/vote', { ...body, voter: v });
      }),
    );
    if (this.stopped || this.term !== term || this.role !== 'Candidate') return;
    let votes = 1;
    for (const a of answers) {
      if (!a) continue;
      if (a.term > this.term) {
        this.stepDown(a.term);
        this.resetElectionTimer();
        return;
      }
      if (a.granted) votes++;
    }
    if (votes * 2 > this.voters.length) {
      this.becomeLeader();
    } else {
      this.role = 'Follower';
      this.resetElectionTimer();
    }
  }

  // ---------------------------------------------------------------- the tick

  /** One consensus step; returns the delay before the next one. */
  private async tick(): Promise<number> {
    const { pollMs } = this.cfg.timing;
    if (this.stopped || this.looping || this.consensusStopped) return pollMs;
    if (this.role === 'Leader') {
      this.advanceCommit();
      if (this.selfUpdatesPending) this.queueSelfUpdates();
      return pollMs;
    }
    if (this.joining) {
      await this.tryJoin();
      return this.joining ? pollMs : 0;
    }
    if (!this.leaderId) await this.discoverLeader();
    let next = pollMs;
    if (this.leaderId && this.leaderId !== this.id) {
      const got = await this.pullFromLeader();
      // A successful (long-)poll goes straight into the next one, like a stream from the leader.
      if (got >= 0) next = 0;
      if (this.leaderId && this.selfUpdatesPending) this.queueSelfUpdates();
      if (this.leaderId && this.outbox.length > 0) await this.flushOutbox();
    }
    const soleVoter = this.voters.length === 1 && this.voters[0] === this.id;
    if ((this.role as Role) !== 'Leader' && this.voters.includes(this.id) && (soleVoter || Date.now() > this.electionDeadline)) {
      const leaderFresh = this.leaderId !== undefined && Date.now() - this.lastLeaderContact < this.cfg.timing.electionTimeoutMs;
      if (!leaderFresh) {
        await this.campaign();
        next = pollMs;
      } else this.resetElectionTimer();
    }
    return next;
  }

  /** After a restart: announce a changed address and a new version (§3, §6). */
  private queueSelfUpdates(): void {
    this.selfUpdatesPending = false;
    const { cfg } = this;
    const stored = this.addresses.get(this.id);
    if (cfg.uri && stored !== undefined && stored !== this.selfUri) {
      this.propose({ type: 'AddPeer', peerId: this.id, uri: this.selfUri });
    }
    if (!versionAtLeast(cfg.version, '1.8.0')) return;
    const mine = this.metadata.get(this.id)?.version;
    if (mine === cfg.version) return;
    const single = this.voters.length <= 1;
    if (mine !== undefined && single && hasStaleSelfMetadataBug(cfg.version)) {
      // reference/qdrant.md §6: 1.13.3-1.14.x single peers never refresh their own metadata.
      return;
    }
    this.propose({ type: 'UpdatePeerMetadata', peerId: this.id, version: cfg.version });
  }

  private async tryJoin(): Promise<void> {
    const target = this.joinTarget;
    if (!target) {
      this.joining = false;
      this.bootstrapNewCluster();
      return;
    }
    const res = await this.p2p<{ ok?: boolean; redirect?: string; leaderId?: string; term?: number; error?: string }>(
      target,
      '/p2p/join',
      { peerId: this.id, uri: this.selfUri, version: this.cfg.version },
    );
    if (res?.ok && res.leaderId) {
      this.joining = false;
      this.leaderId = res.leaderId;
      this.leaderUri = target;
      this.term = Math.max(this.term, res.term ?? 0);
      this.resetElectionTimer(true);
      this.log.info(TARGET.consensus, `Joined the cluster through ${target} as peer ${this.id}`);
      return;
    }
    if (res?.redirect) {
      this.joinTarget = res.redirect;
      return;
    }
    if (Date.now() - this.lastJoinLog > 5000) {
      this.lastJoinLog = Date.now();
      this.log.warn(TARGET.consensus, `Failed to join the cluster through ${target}: ${res?.error ?? 'no answer'}; retrying`);
    }
  }

  private async discoverLeader(): Promise<void> {
    const candidates = [...this.addresses].filter(([pid, uri]) => pid !== this.id && uri !== this.selfUri);
    const answers = await Promise.all(
      candidates.map(async ([, uri]) => ({ uri, s: await this.p2p<{ peerId: string; role: Role; term: number; leaderId?: string }>(uri, '/p2p/status') })),
    );
    let best: { id: string; uri: string; term: number } | undefined;
    for (const { uri, s } of answers) {
      if (!s || s.term < this.term) continue;
      if (s.role === 'Leader' && (!best || s.term > best.term)) best = { id: s.peerId, uri, term: s.term };
    }
    if (best && !this.stopped) {
      if (best.term > this.term) {
        this.term = best.term;
        this.vote = '0';
      }
      this.leaderId = best.id;
      this.leaderUri = best.uri;
      this.leaderPullFailures = 0;
    }
  }

  /** Returns the number of entries received, or -1 when the leader could not be used. */
  private async pullFromLeader(): Promise<number> {
    const uri = this.leaderUri ?? (this.leaderId ? this.addresses.get(this.leaderId) : undefined);
    if (!uri) {
      this.leaderId = undefined;
      return -1;
    }
    const req: AppendRequest = {
      peerId: this.id,
      term: this.term,
      lastIndex: this.lastIndex(),
      lastTerm: this.termAt(this.lastIndex()) ?? 0,
      commit: this.leaderCommit,
    };
    const res = await this.p2p<AppendResponse>(uri, '/p2p/append', req);
    if (this.stopped) return -1;
    if (!res) {
      this.leaderPullFailures++;
      this.lastPullError = {
        uri,
        count: this.leaderPullFailures,
        error: `Failed to send message to ${uri}: transport error: connection refused or timed out`,
        at: new Date(),
      };
      if (this.leaderPullFailures >= 3) {
        this.synced = false;
        this.leaderId = undefined;
        this.leaderUri = undefined;
      }
      return -1;
    }
    this.leaderPullFailures = 0;
    this.lastPullError = undefined;
    if (res.notLeader) {
      this.synced = false;
      if (res.term > this.term) this.stepDown(res.term);
      this.leaderId = res.leaderId && res.leaderId !== this.leaderId ? res.leaderId : undefined;
      this.leaderUri = res.leaderUri;
      return -1;
    }
    if (res.conflict) {
      this.truncateTo(res.hint ?? 0);
      return 1;
    }
    if (res.term > this.term) {
      this.term = res.term;
      this.vote = '0';
    }
    if (this.role !== 'Follower') this.role = 'Follower';
    this.synced = true;
    this.resetElectionTimer(true);
    this.consensusLastUpdate = new Date();
    if (res.snapshot) this.installSnapshot(res.snapshot);
    const fresh = (res.entries ?? []).filter((e) => e.index === this.lastIndex() + 1 || e.index > this.lastIndex());
    const toAppend: LogEntry[] = [];
    for (const e of fresh) {
      if (e.index !== this.lastIndex() + 1 + toAppend.length) break;
      toAppend.push(e);
    }
    if (toAppend.length > 0) {
      this.entries.push(...toAppend);
      this.wal.append(toAppend);
    }
    this.leaderCommit = res.commit ?? this.leaderCommit;
    this.commit = Math.max(this.commit, Math.min(this.leaderCommit, this.lastIndex()));
    this.applyCommitted();
    return toAppend.length + (res.snapshot ? 1 : 0);
  }

  private truncateTo(index: number): void {
    if (index < this.snapshot.index) {
      this.snapshot = { index: 0, term: 0 };
      this.entries = [];
      this.commit = 0;
      this.applied = 0;
    } else {
      this.entries = this.entries.filter((e) => e.index <= index);
      this.commit = Math.min(this.commit, index);
      this.applied = Math.min(this.applied, this.commit);
    }
    this.wal.rewrite(this.entries);
  }

  private installSnapshot(s: SnapshotPayload): void {
    this.snapshot = { index: s.index, term: s.term };
    this.entries = [];
    this.wal.rewrite([]);
    this.voters = [...s.voters];
    this.firstVoter = s.firstVoter ?? this.firstVoter;
    for (const [id, uri] of s.peers) {
      const prev = this.addresses.get(id);
      if (prev !== undefined && prev !== uri) this.log.warn(TARGET.persistent, `Replaced address of peer ${id} from ${prev} to ${uri}`);
    }
    this.addresses = new Map(s.peers);
    for (const [id, version] of s.metadata) {
      const prev = this.metadata.get(id);
      if (prev && versionAtLeast(this.cfg.version, '1.8.0')) {
        this.log.info(TARGET.persistent, `Replaced metadata of peer ${id} from ${peerMetadataDebug(prev.version)} to ${peerMetadataDebug(version)}`);
      }
    }
    this.metadata = new Map(s.metadata.map(([id, version]) => [id, { version }]));
    this.collections = new Map();
    for (const c of s.collections) {
      const state: CollectionState = {
        name: c.name,
        shardNumber: c.shardNumber,
        replicationFactor: c.replicationFactor,
        vectors: c.vectors,
        shards: new Map(c.shards.map(([sid, reps]) => [sid, new Map(reps)])),
      };
      this.collections.set(c.name, state);
      writeCollection(this.cfg.storageDir, state, this.id, this.voters.length);
    }
    this.commit = Math.max(this.commit, s.index);
    this.applied = s.index;
    this.log.info(TARGET.raft, `Installed snapshot at index ${s.index}, term ${s.term}`);
    this.persist();
  }

  private snapshotPayload(): SnapshotPayload {
    return {
      index: this.applied,
      term: this.termAt(this.applied) ?? this.term,
      voters: [...this.voters],
      ...(this.firstVoter ? { firstVoter: this.firstVoter } : {}),
      peers: [...this.addresses],
      metadata: [...this.metadata].map(([id, m]) => [id, m.version]),
      collections: [...this.collections.values()].map((c) => ({
        name: c.name,
        shardNumber: c.shardNumber,
        replicationFactor: c.replicationFactor,
        vectors: c.vectors,
        shards: [...c.shards].map(([sid, reps]) => [sid, [...reps]] as [number, Array<[string, string]>]),
      })),
    };
  }

  private async flushOutbox(): Promise<void> {
    if (!this.leaderUri || this.outbox.length === 0) return;
    const ops = this.outbox.slice();
    const res = await this.p2p<{ ok?: boolean }>(this.leaderUri, '/p2p/propose', { ops });
    if (res?.ok) this.outbox.splice(0, ops.length);
  }

  // ---------------------------------------------------------------- p2p client and server

  private async p2p<T>(uri: string, route: string, body?: unknown): Promise<T | undefined> {
    if (this.stopped) return undefined;
    try {
      const base = resolveUrl(this.cfg.resolver, uri);
      const res = await fetch(base + route, {
        method: body === undefined ? 'GET' : 'POST',
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.cfg.timing.requestTimeoutMs)]),
      });
      const text = await res.text();
      if (!res.ok && res.status !== 409) return undefined;
      return JSON.parse(text) as T;
    } catch {
      return undefined;
    }
  }

  private async handleP2p(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://p2p');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const body = req.method === 'POST' ? (JSON.parse((await readBody(req)) || '{}') as Record<string, unknown>) : {};
    if (this.stopped || !this.initialized) return send(503, { error: 'not running' });
    if (url.pathname === '/p2p/status') {
      return send(200, { peerId: this.id, role: this.role, term: this.term, leaderId: this.leaderId, commit: this.commit, uri: this.selfUri });
    }
    if (this.consensusStopped || this.looping) return send(503, { error: 'consensus is not running on this peer' });
    switch (url.pathname) {
      case '/p2p/append':
        return send(200, await this.onAppend(body as unknown as AppendRequest));
      case '/p2p/vote':
        return send(200, this.onVote(body as { term: number; candidateId: string; lastIndex: number; lastTerm: number; voter?: string }));
      case '/p2p/join':
        return this.onJoin(body as { peerId: string; uri: string; version?: string }, send);
      case '/p2p/propose': {
        if (this.role !== 'Leader') return send(409, { ok: false, leaderId: this.leaderId });
        for (const op of (body.ops as ConsensusOp[] | undefined) ?? []) this.appendLocal(op);
        return send(200, { ok: true });
      }
      default:
        return send(404, { error: `no route ${url.pathname}` });
    }
  }

  /**
   * A follower's poll. When it already holds everything and knows the commit, the answer waits
   * (up to half the election timeout) for the next change, so entries and commits reach followers
   * at once, as Qdrant's leader pushes them.
   */
  private async onAppend(req: AppendRequest): Promise<AppendResponse> {
    const first = this.answerAppend(req);
    const caughtUp = first.ok && !first.snapshot && (first.entries?.length ?? 0) === 0 && (req.commit ?? -1) >= this.commit;
    if (!caughtUp) return first;
    const hold = Math.min(this.cfg.timing.electionTimeoutMs / 2, this.cfg.timing.requestTimeoutMs / 2);
    await this.waitForChange(hold);
    if (this.stopped) return { notLeader: true, term: this.term };
    return this.answerAppend(req);
  }

  private answerAppend(req: AppendRequest): AppendResponse {
    if (req.term > this.term) this.stepDown(req.term);
    if (this.role !== 'Leader') {
      return { notLeader: true, term: this.term, leaderId: this.leaderId, leaderUri: this.leaderUri };
    }
    this.lastContact.set(req.peerId, Date.now());
    const base = { ok: true, term: this.term, leaderId: this.id, commit: this.commit };
    if (req.lastIndex < this.snapshot.index) {
      const snapshot = this.snapshotPayload();
      this.matchIndex.set(req.peerId, snapshot.index);
      return { ...base, snapshot, entries: this.entries.filter((e) => e.index > snapshot.index).slice(0, 200) };
    }
    if (req.lastIndex > this.lastIndex() || this.termAt(req.lastIndex) !== req.lastTerm) {
      return { conflict: true, term: this.term, hint: Math.max(0, Math.min(req.lastIndex - 1, this.lastIndex(), this.commit)) };
    }
    this.matchIndex.set(req.peerId, req.lastIndex);
    queueMicrotask(() => this.advanceCommit());
    return { ...base, entries: this.entries.filter((e) => e.index > req.lastIndex).slice(0, 200) };
  }

  private onVote(req: { term: number; candidateId: string; lastIndex: number; lastTerm: number; voter?: string }): {
    granted: boolean;
    term: number;
    peerId: string;
  } {
    const no = { granted: false, term: this.term, peerId: this.id };
    if (req.candidateId === this.id || (req.voter !== undefined && req.voter !== this.id)) return no; // asked the wrong peer
    if (req.term < this.term) return no;
    const now = Date.now();
    if (this.role === 'Leader') {
      const recent = this.voters.filter(
        (v) => v === this.id || now - (this.lastContact.get(v) ?? 0) < this.cfg.timing.electionTimeoutMs,
      ).length;
      if (recent * 2 > this.voters.length) return no; // check-quorum: we still lead a majority
    } else if (this.leaderId && now - this.lastLeaderContact < this.cfg.timing.electionTimeoutMs) {
      return no; // leader stickiness
    }
    if (req.term > this.term) this.stepDown(req.term);
    const myLastTerm = this.termAt(this.lastIndex()) ?? 0;
    const upToDate = req.lastTerm > myLastTerm || (req.lastTerm === myLastTerm && req.lastIndex >= this.lastIndex());
    if ((this.vote === '0' || this.vote === req.candidateId) && upToDate) {
      this.vote = req.candidateId;
      this.persist();
      this.resetElectionTimer(true);
      return { granted: true, term: this.term, peerId: this.id };
    }
    return { ...no, term: this.term };
  }

  private onJoin(
    req: { peerId: string; uri: string; version?: string },
    send: (status: number, body: unknown) => void,
  ): void {
    if (this.role !== 'Leader') {
      const leaderUri = this.leaderId ? this.addresses.get(this.leaderId) : undefined;
      if (leaderUri) return send(200, { redirect: leaderUri });
      return send(503, { error: 'no leader known yet' });
    }
    const uri = normaliseUri(req.uri);
    if (this.addresses.get(req.peerId) !== uri || !this.voters.includes(req.peerId)) {
      this.appendLocal({ type: 'AddPeer', peerId: req.peerId, uri });
    }
    if (req.version && versionAtLeast(this.cfg.version, '1.8.0') && this.metadata.get(req.peerId)?.version !== req.version) {
      this.appendLocal({ type: 'UpdatePeerMetadata', peerId: req.peerId, version: req.version });
    }
    this.lastContact.set(req.peerId, Date.now());
    this.log.info(TARGET.consensus, `Peer ${req.peerId} (${uri}) joined the cluster`);
    send(200, { ok: true, leaderId: this.id, term: this.term });
  }

  // ---------------------------------------------------------------- collections (REST PUT)

  /** Creates a collection through consensus and waits until this peer applied it. */
  async createCollection(spec: CollectionSpec, timeoutMs = 10_000): Promise<void> {
    const c = toCollectionState(spec);
    if (this.collections.has(c.name)) throw new Error(`Wrong input: Collection \`${c.name}\` already exists!`);
    const peers = this.cfg.clusterEnabled ? this.voters.filter((v) => this.addresses.has(v)) : [this.id];
    this.propose({
      type: 'CreateCollection',
      name: c.name,
      shardNumber: c.shardNumber,
      replicationFactor: c.replicationFactor,
      vectors: c.vectors,
    });
    const rf = c.replicationFactor === 0 ? peers.length : Math.min(c.replicationFactor, peers.length);
    for (let s = 0; s < c.shardNumber; s++) {
      for (let k = 0; k < rf; k++) {
        const peerId = peers[(s + k) % peers.length]!;
        this.propose({ type: 'SetReplica', collection: c.name, shardId: s, peerId, state: 'Active' });
      }
    }
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !this.stopped) {
      const got = this.collections.get(c.name);
      if (got && [...got.shards.values()].every((r) => r.size >= Math.max(1, rf))) return;
      await sleep(20);
    }
    throw new Error(`Service internal error: Timeout while waiting for the collection ${c.name} to be created through consensus`);
  }
}

// ------------------------------------------------------------------ helpers

function lastOf(entries: LogEntry[]): number {
  return entries.length > 0 ? entries[entries.length - 1]!.index : 0;
}

function safeNumber(u64: string): number {
  const n = Number(u64);
  if (!Number.isSafeInteger(n)) throw new Error(`raft state: index/term ${u64} is beyond what the emulator handles`);
  return n;
}

function safeParse(text: string): RaftStateFile | undefined {
  try {
    return parseRaftState(text);
  } catch {
    return undefined;
  }
}

export function toCollectionState(spec: CollectionSpec): CollectionState {
  const shardNumber = spec.shardNumber ?? 1;
  const rf = spec.replicationFactor === 'all' || spec.replicationFactor === undefined ? 0 : spec.replicationFactor;
  return {
    name: spec.name,
    shardNumber,
    replicationFactor: rf,
    vectors: spec.vectors ?? { size: 4, distance: 'Dot' },
    shards: new Map(Array.from({ length: shardNumber }, (_, s) => [s, new Map<string, string>()])),
  };
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

/**
 * Qdrant <= 1.3 wrote raft_state as CBOR. The emulator decodes what it can (a map with
 * this_peer_id and friends) and otherwise mints a new id; it never writes that format.
 */
function decodeLegacyState(buf: Buffer): RaftStateFile | undefined {
  try {
    const v = decodeCbor(buf) as Record<string, unknown>;
    const id = v?.this_peer_id;
    if (typeof id !== 'number' && typeof id !== 'bigint') return undefined;
    const asU64 = (x: unknown): string => (typeof x === 'bigint' || typeof x === 'number' ? BigInt(x).toString() : '0');
    const state = (v.state ?? {}) as Record<string, Record<string, unknown>>;
    const hs = state.hard_state ?? {};
    const cs = state.conf_state ?? {};
    const addresses = new Map<string, string>();
    for (const [k, uri] of Object.entries((v.peer_address_by_id ?? {}) as Record<string, unknown>)) {
      if (typeof uri === 'string') addresses.set(String(k), uri);
    }
    return {
      hardState: { term: asU64(hs.term), vote: asU64(hs.vote), commit: asU64(hs.commit) },
      confState: {
        voters: ((cs.voters as unknown[]) ?? []).map(asU64),
        learners: [],
        votersOutgoing: [],
        learnersNext: [],
        autoLeave: false,
      },
      latestSnapshotMeta: { term: '0', index: '0' },
      applyProgressQueue: null,
      peerAddressById: addresses,
      thisPeerId: asU64(id),
    };
  } catch {
    return undefined;
  }
}
