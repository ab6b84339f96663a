/**
 * One emulated Qdrant peer for one "process lifetime": its state, start-up, the state machine that
 * applies committed entries, and shutdown. Restarting a peer means stopping this object and
 * starting a new one on the same storage dir (see cluster.ts). The test-double caveats are listed
 * in index.ts. The other concerns live beside it and take the peer as their first argument:
 * consensus.ts (the Raft of our own), peer-http.ts (sockets), p2p.ts (messages and transports),
 * peer-storage.ts (raft_state.json in and out), replay-loop.ts (#6229), peer-faults.ts (fault
 * modes). Fields are public for those modules; tests read status() instead.
 */
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { realClock, type EmulatorClock } from './clock.js';
import * as consensus from './consensus.js';
import type { FaultSpec } from './faults.js';
import { TARGET, type EmulatorLog } from './log.js';
import { httpTransport, type P2pTransport } from './p2p.js';
import type { CollectionSpec, PeerConfig, PeerStatus, Role } from './peer-config.js';
import * as faults from './peer-faults.js';
import * as peerHttp from './peer-http.js';
import * as storage from './peer-storage.js';
import { lastOf, safeParse, toCollectionState } from './peer-storage.js';
import { mintPeerId, serializeRaftState, writeRaftState } from './raft-state.js';
import * as replay from './replay-loop.js';
import { normaliseUri } from './resolve.js';
import { ensureAliases, loadCollections, writeCollection, writeReplicaState, type CollectionState } from './storage.js';
import { peerMetadataDebug, versionAtLeast } from './version.js';
import { Wal, type ConsensusOp, type LogEntry } from './wal.js';

export { DEFAULT_TIMING } from './peer-config.js';
export type { CollectionSpec, PeerConfig, PeerStatus, Role, Timing } from './peer-config.js';
export { toCollectionState } from './peer-storage.js';

export class EmulatedPeer {
  readonly cfg: PeerConfig;
  readonly log: EmulatorLog;
  readonly wal: Wal;
  readonly statePath: string;
  readonly legacyStatePath: string;
  readonly startedAt: Date;
  readonly clock: EmulatorClock;
  readonly transport: P2pTransport;

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
  lastLeaderContact: number;
  electionDeadline = 0;
  leaderPullFailures = 0;
  lastPullError?: { uri: string; count: number; error: string; at: Date };

  // leader bookkeeping
  matchIndex = new Map<string, number>();
  /** Followers' append requests held until the log or the commit changes (long poll). */
  waiters = new Set<() => void>();
  lastContact = new Map<string, number>();
  leaderSince = 0;

  // membership and proposals
  joining = false;
  joinTarget?: string;
  lastJoinLog = 0;
  outbox: ConsensusOp[] = [];
  selfUpdatesPending = false;
  /** A lost state replayed without --bootstrap: the peer elects itself over the old log (replay-loop.ts). */
  selfElect = false;
  /** Collections a replaying peer proposes again once it has joined (Qdrant re-proposes them). */
  reproposeOnJoin: string[] = [];
  /** When a 1.16+ leader first refused our join because another id holds our URI. */
  joinRefusedAt?: number;
  /** Exit code once the peer panicked after start-up. */
  panicked?: number;

  // faults
  fault: FaultSpec;
  faultSince: number;
  consensusErr?: string;
  consensusLastUpdate: Date;
  looping = false;
  loopCount = 0;
  loopEntries: Array<{ peerId: string; version: string }> = [];

  servers: http.Server[] = [];
  /** Cancel functions of pending timers, all dropped by stop(). */
  timers = new Set<() => void>();
  private leaveNetwork?: () => void;
  abort = new AbortController();
  stopped = false;
  initialized = false;
  lastPersisted = '';
  standaloneWritten = false;
  /** True once a pull from the current leader succeeded (readiness needs it). */
  synced = false;
  boundPort = 0;
  boundP2pPort = 0;

  private constructor(cfg: PeerConfig) {
    this.cfg = cfg;
    this.log = cfg.log;
    this.fault = cfg.fault;
    this.wal = new Wal(cfg.storageDir);
    this.statePath = path.join(cfg.storageDir, 'raft_state.json');
    this.legacyStatePath = path.join(cfg.storageDir, 'raft_state');
    this.clock = cfg.clock ?? realClock;
    this.transport = cfg.network ?? httpTransport;
    this.startedAt = new Date(this.clock.now());
    this.lastLeaderContact = this.clock.now();
    this.faultSince = this.clock.now();
    this.consensusLastUpdate = new Date(this.clock.now());
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
    await peerHttp.listen(this);
    if (cfg.network && cfg.clusterEnabled) {
      this.leaveNetwork = cfg.network.register(cfg.host, this.boundP2pPort, (method, pathname, body) =>
        consensus.dispatchP2p(this, method, pathname, body),
      );
    }
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
    if (cfg.clusterEnabled && !this.looping) {
      consensus.startConsensus(this);
      faults.applyStartupFault(this);
    }
  }

  private initStandalone(): void {
    const { cfg, log } = this;
    const loaded = storage.loadStateFile(this);
    if (loaded) {
      storage.restoreFrom(this, loaded);
      if (!fs.existsSync(this.statePath)) this.persist(true); // migrated from the legacy file
      this.standaloneWritten = true;
    } else {
      log.info(TARGET.persistent, `Initializing new raft state at ${this.statePath}`);
      this.id = cfg.freshPeerId ?? mintPeerId(() => this.clock.random());
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
    const loaded = forcedLoss || newIdentity ? undefined : storage.loadStateFile(this);

    if (loaded) {
      storage.restoreFrom(this, loaded);
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
      return;
    }

    log.info(TARGET.persistent, `Initializing new raft state at ${this.statePath}`);
    this.id = newIdentity || forcedLoss ? mintPeerId(() => this.clock.random()) : (cfg.freshPeerId ?? mintPeerId(() => this.clock.random()));
    this.term = 0;
    this.vote = '0';
    this.commit = 0;

    if (forcedLoss) {
      // The emulated metadata-loop fault: a used volume that never gets past the replay.
      this.persist(true);
      replay.startReplayLoop(this, walEntries, true);
      return;
    }
    if (Wal.exists(cfg.storageDir) && !newIdentity) {
      // docs/incident-6229.md: a used volume without its state file: a new id, the old log replayed.
      this.persist(true);
      replay.replayLostState(this, walEntries);
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

  // ---------------------------------------------------------------- servers

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.leaveNetwork?.();
    this.abort.abort();
    this.notifyFollowers();
    for (const cancel of this.timers) cancel();
    this.timers.clear();
    await peerHttp.closeServers(this.servers);
    this.servers = [];
  }

  /** Qdrant's panic after start-up: the line, then the process ends (exit 101); storage stays as written. */
  panic(message: string): void {
    if (this.stopped) return;
    this.log.error(TARGET.startup, `Panic occurred in file src/main.rs at line 455: ${message}`);
    this.panicked = 101;
    void this.stop();
    this.cfg.onPanic?.(101);
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Runs `fn` again after the delay it returns, never two at once. */
  loop(fn: () => Promise<number>): void {
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
  notifyFollowers(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  waitForChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        cancel();
        this.waiters.delete(done);
        resolve();
      };
      const cancel = this.clock.after(ms, done);
      this.waiters.add(done);
    });
  }

  /** Runs `fn` after `ms` on this peer's clock, unless the peer stops first. */
  after(ms: number, fn: () => void): void {
    if (this.stopped) return;
    const cancel = this.clock.after(ms, () => {
      this.timers.delete(cancel);
      fn();
    });
    this.timers.add(cancel);
  }

  // ---------------------------------------------------------------- faults and what the REST API reports

  /** Runtime faults (the start-up ones are handled by restarting, see cluster.ts). */
  setFault(spec: FaultSpec): void {
    faults.setFault(this, spec);
  }

  get consensusStopped(): boolean {
    return this.consensusErr !== undefined;
  }

  /** Commit and pending operations as reported, lag fault included. */
  reportedRaft(): { commit: number; pending: number } {
    return faults.reportedRaft(this);
  }

  consensusThreadStatus(): { consensus_thread_status: string; err?: string; last_update?: string } {
    return faults.consensusThreadStatus(this);
  }

  messageSendFailures(): Record<string, { count: number; latest_error: string; latest_error_timestamp: string }> {
    return faults.messageSendFailures(this);
  }

  /** /readyz in cluster mode: caught up with the cluster commit and local shards active (docs/qdrant-facts.md#http-api). */
  isReady(): boolean {
    return faults.isReady(this);
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

  /** Rewrites raft_state.json when it changed (Qdrant rewrites it on every applied entry). */
  persist(force = false): void {
    const s = storage.toStateFile(this);
    const text = serializeRaftState(s, this.cfg.version);
    if (!force && text === this.lastPersisted) return;
    if (!this.cfg.clusterEnabled && this.standaloneWritten) return; // written once, then static (docs/qdrant-facts.md#storage-directory)
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
        if (this.collections.has(op.name)) {
          // A proposal made again by a peer that replayed its lost state (replay-loop.ts).
          log.warn(TARGET.consensusManager, `Failed to apply collection meta operation entry with user error: Wrong input: Collection \`${op.name}\` already exists!`);
          return;
        }
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

  /** Proposes an operation through the leader (sent on the next tick when we are a follower). */
  propose(op: ConsensusOp): void {
    if (!this.cfg.clusterEnabled) {
      this.apply(op);
      return;
    }
    if (this.role === 'Leader' && !this.consensusStopped) consensus.appendLocal(this, op);
    else this.outbox.push(op);
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
    const deadline = this.clock.now() + timeoutMs;
    while (this.clock.now() < deadline && !this.stopped) {
      const got = this.collections.get(c.name);
      if (got && [...got.shards.values()].every((r) => r.size >= Math.max(1, rf))) return;
      await this.clock.sleep(20);
    }
    throw new Error(`Service internal error: Timeout while waiting for the collection ${c.name} to be created through consensus`);
  }
}
