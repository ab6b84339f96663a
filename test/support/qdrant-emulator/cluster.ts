/**
 * In-process handles on emulated peers: start, stop, restart on another version or with a fault,
 * and whole clusters on distinct loopback addresses. See index.ts for the public surface.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EmulatorLog, type LogRecord } from './log.js';
import { STARTUP_MODES, toFaultSpec, type FaultMode, type FaultSpec } from './faults.js';
import {
  DEFAULT_TIMING,
  EmulatedPeer,
  type CollectionSpec,
  type PeerConfig,
  type PeerStatus,
  type Timing,
} from './peer.js';
import { chainResolvers, fileResolver, mapResolver, normaliseUri, type Resolver } from './resolve.js';
import type { Simulation } from './sim.js';
import { fakeCommitSha, normaliseVersion } from './version.js';

export interface StartPeerOptions {
  /** Pod-like name used in logs and endpoints; default `qdrant-0`. */
  name?: string;
  /** Qdrant version; `v1.13.5` and `1.13.5-unprivileged` are accepted and normalised. */
  version: string;
  /** Loopback address to bind; default a free one in 127.2.0.0/16. */
  host?: string;
  /** REST port; default 6333 (each peer has its own IP). 0 = ephemeral. */
  port?: number;
  /** p2p port; default 6335. 0 = ephemeral. */
  p2pPort?: number;
  /** Folder holding `storage/`, `snapshots/` and `qdrant.log`; default a new temp dir. */
  rootDir?: string;
  storageDir?: string;
  snapshotsDir?: string;
  logFile?: string;
  /** Cluster mode (QDRANT__CLUSTER__ENABLED); default true. */
  clusterEnabled?: boolean;
  /** `--uri`: the p2p URI this peer advertises; default `http://<host>:<p2pPort>/`. */
  uri?: string;
  /** `--bootstrap`: p2p URI of a peer to join. */
  bootstrap?: string;
  apiKey?: string;
  readOnlyApiKey?: string;
  fault?: FaultMode | FaultSpec;
  /** Id for a peer without state (QDRANT__CLUSTER__PEER_ID, or a pre-1.2 style id above 2^53). */
  peerId?: string;
  /** Collection created by the first peer of a new cluster; default `demo`, 1 shard, a replica on every peer. */
  defaultCollection?: CollectionSpec | false;
  /** Host names of peer URIs: a map, a function, and/or a resolve file (see resolve.ts). */
  resolve?: Record<string, string> | Map<string, string> | Resolver;
  resolveFile?: string;
  timing?: Partial<Timing>;
  logFormat?: 'text' | 'json';
  color?: boolean;
  /** Echo log lines to stderr (also with env QDRANT_EMULATOR_ECHO=1). */
  echo?: boolean;
  /**
   * Run on a simulation's virtual clock and in-memory p2p network (sim.ts): nothing moves until
   * the test steps it; waits of this handle and its cluster step it, bounded in virtual time.
   */
  sim?: Simulation;
}

export interface RestartOptions {
  /** New version (the upgrade); default the current one. */
  version?: string;
  /** Fault for the new lifetime; a restart clears the previous fault unless given. */
  fault?: FaultMode | FaultSpec;
  /** Delete raft_state.json between stop and start (the #6229 pipeline mistake). */
  deleteStateFile?: boolean;
  /** Come back on another address (pod IP change); the URI follows unless `uri` is given. */
  host?: string;
  uri?: string;
  apiKey?: string;
  readOnlyApiKey?: string;
  /** Pause between stop and start. */
  downMs?: number;
}

export interface WaitOptions {
  /** Real ms, or virtual ms when `sim` is given. */
  timeoutMs?: number;
  intervalMs?: number;
  /** Step this simulation instead of sleeping. */
  sim?: Simulation;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ loopback addresses

let nextLoopback = { b: 2 + Math.floor(Math.random() * 250), c: 1 };
const handedOut = new Set<string>();

/** A loopback address not handed out before in this process: 127.2.x.y (all of 127/8 is local on Linux). */
export function allocateLoopback(): string {
  for (;;) {
    const ip = `127.2.${nextLoopback.b}.${nextLoopback.c}`;
    nextLoopback.c++;
    if (nextLoopback.c > 254) nextLoopback = { b: (nextLoopback.b % 254) + 1, c: 1 };
    if (!handedOut.has(ip)) {
      handedOut.add(ip);
      return ip;
    }
  }
}

// ------------------------------------------------------------------ one peer

export class EmulatedPeerHandle {
  readonly name: string;
  readonly rootDir: string;
  readonly storageDir: string;
  readonly snapshotsDir: string;
  readonly logFile: string;
  readonly log: EmulatorLog;
  private opts: StartPeerOptions;
  private peer?: EmulatedPeer;
  private lastPeerId = '';
  private lifetimeStart = 0;
  private hostAuto: boolean;
  private resolver: Resolver;
  private fault: FaultSpec = { mode: 'healthy' };
  private unreachable = false;

  /** Use startPeer(); the constructor does not start anything. */
  constructor(opts: StartPeerOptions, resolver?: Resolver) {
    this.opts = { ...opts, version: normaliseVersion(opts.version) };
    this.name = opts.name ?? 'qdrant-0';
    this.rootDir = opts.rootDir ?? fs.mkdtempSync(path.join(os.tmpdir(), `qdrant-emulator-${this.name}-`));
    this.storageDir = opts.storageDir ?? path.join(this.rootDir, 'storage');
    this.snapshotsDir = opts.snapshotsDir ?? path.join(this.rootDir, 'snapshots');
    this.logFile = opts.logFile ?? path.join(this.rootDir, 'qdrant.log');
    fs.mkdirSync(path.dirname(this.logFile), { recursive: true });
    const echo = opts.echo ?? process.env.QDRANT_EMULATOR_ECHO === '1';
    this.log = new EmulatorLog({
      format: opts.logFormat ?? 'text',
      color: opts.color ?? false,
      file: this.logFile,
      ...(echo ? { stream: process.stderr, streamPrefix: `[${this.name}] ` } : {}),
      ...(opts.sim ? { now: () => opts.sim!.now() } : {}),
    });
    this.hostAuto = opts.host === undefined;
    const own =
      typeof opts.resolve === 'function'
        ? opts.resolve
        : opts.resolve
          ? mapResolver(opts.resolve)
          : undefined;
    this.resolver = resolver ?? chainResolvers(own, opts.resolveFile ? fileResolver(opts.resolveFile) : undefined);
    this.fault = toFaultSpec(opts.fault);
  }

  /** Bound address (the "pod IP"). */
  get host(): string {
    return this.opts.host ?? '';
  }
  /** REST base URL, e.g. `http://127.2.14.3:6333`. */
  get url(): string {
    return `http://${this.host}:${this.peer?.boundPort || this.opts.port || 6333}`;
  }
  get port(): number {
    return this.peer?.boundPort || (this.opts.port ?? 6333);
  }
  get p2pPort(): number {
    return this.peer?.boundP2pPort || (this.opts.p2pPort ?? 6335);
  }
  /** The p2p URI this peer advertises (as stored in peer_address_by_id). */
  get p2pUri(): string {
    return this.peer?.selfUri ?? normaliseUri(this.opts.uri ?? `http://${this.host}:${this.p2pPort}`);
  }
  /** Current peer id as a decimal string (the last known one while stopped). */
  get peerId(): string {
    return this.peer && !this.peer.isStopped ? this.peer.id : this.lastPeerId;
  }
  get version(): string {
    return this.opts.version;
  }
  get running(): boolean {
    return this.peer !== undefined && !this.peer.isStopped;
  }
  get apiKey(): string | undefined {
    return this.opts.apiKey;
  }
  get mode(): FaultSpec {
    return this.unreachable ? { mode: 'unreachable' } : (this.peer?.fault ?? this.fault);
  }

  /** Internal engine of the current lifetime (tests may read fields; prefer status()). */
  get engine(): EmulatedPeer | undefined {
    return this.peer;
  }

  /** Starts the peer (again) on the same storage. */
  async start(): Promise<void> {
    if (this.running) return;
    for (let attempt = 0; ; attempt++) {
      if (this.hostAuto && !this.opts.host) this.opts.host = allocateLoopback();
      try {
        this.lifetimeStart = this.log.records().length;
        this.peer = await EmulatedPeer.start(this.config());
        this.lastPeerId = this.peer.id;
        // The id option seeds fresh storage once; after a lost state file the peer mints anew,
        // as Qdrant before 1.15 does (QDRANT__CLUSTER__PEER_ID in process mode stays, as in 1.15+).
        this.opts.peerId = undefined;
        this.unreachable = this.fault.mode === 'unreachable';
        return;
      } catch (err) {
        const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
        if (inUse && this.hostAuto && attempt < 20) {
          this.opts.host = allocateLoopback();
          continue;
        }
        throw err;
      }
    }
  }

  private config(): PeerConfig {
    const o = this.opts;
    return {
      name: this.name,
      host: o.host!,
      port: o.port ?? 6333,
      p2pPort: o.p2pPort ?? 6335,
      storageDir: this.storageDir,
      snapshotsDir: this.snapshotsDir,
      version: o.version,
      commitSha: fakeCommitSha(o.version),
      clusterEnabled: o.clusterEnabled ?? true,
      ...(o.uri ? { uri: o.uri } : {}),
      ...(o.bootstrap ? { bootstrap: o.bootstrap } : {}),
      ...(o.apiKey ? { apiKey: o.apiKey } : {}),
      ...(o.readOnlyApiKey ? { readOnlyApiKey: o.readOnlyApiKey } : {}),
      fault: this.fault,
      ...(o.peerId ? { freshPeerId: o.peerId } : {}),
      defaultCollection:
        o.defaultCollection === false
          ? null
          : (o.defaultCollection ?? { name: 'demo', shardNumber: 1, replicationFactor: 'all' }),
      resolver: this.resolver,
      log: this.log,
      timing: { ...DEFAULT_TIMING, ...o.timing },
      ...(o.sim ? { clock: o.sim.clock, network: o.sim.network } : {}),
    };
  }

  /** Stops the peer: sockets closed (connection refused), timers cleared. Storage stays. */
  async stop(): Promise<void> {
    if (this.peer) {
      this.lastPeerId = this.peer.id;
      await this.peer.stop();
    }
  }

  /** Stop, then start again; `version` makes it an upgrade (or downgrade). */
  async restart(opts: RestartOptions = {}): Promise<void> {
    await this.stop();
    if (opts.version) this.opts.version = normaliseVersion(opts.version);
    if (opts.host) {
      this.opts.host = opts.host;
      this.hostAuto = false;
    }
    if (opts.uri) this.opts.uri = opts.uri;
    if (opts.apiKey !== undefined) this.opts.apiKey = opts.apiKey || undefined;
    if (opts.readOnlyApiKey !== undefined) this.opts.readOnlyApiKey = opts.readOnlyApiKey || undefined;
    this.fault = toFaultSpec(opts.fault);
    if (opts.deleteStateFile) this.deleteStateFile();
    if (opts.downMs) await (this.opts.sim ? this.opts.sim.run(opts.downMs) : sleep(opts.downMs));
    await this.start();
  }

  /**
   * Switches the fault mode. `new-peer-id` and `metadata-loop` take effect through a restart;
   * `unreachable` stops the peer and leaving it starts the peer again.
   */
  async setMode(mode: FaultMode | FaultSpec): Promise<void> {
    const spec = toFaultSpec(mode);
    if (spec.mode === 'unreachable') {
      this.unreachable = true;
      await this.stop();
      return;
    }
    if (this.unreachable || !this.running) {
      this.unreachable = false;
      this.fault = spec;
      if (STARTUP_MODES.has(spec.mode)) await this.restart({ fault: spec });
      else {
        await this.start();
        if (spec.mode !== 'healthy') this.peer!.setFault(spec);
      }
      return;
    }
    if (STARTUP_MODES.has(spec.mode)) {
      await this.restart({ fault: spec });
      return;
    }
    this.fault = spec;
    this.peer!.setFault(spec);
  }

  /** Removes `<storage>/raft_state.json` (a running peer rewrites it on its next state change). */
  deleteStateFile(): void {
    fs.rmSync(path.join(this.storageDir, 'raft_state.json'), { force: true });
  }

  /** The raw raft_state.json text, or undefined. */
  readStateFile(): string | undefined {
    try {
      return fs.readFileSync(path.join(this.storageDir, 'raft_state.json'), 'utf8');
    } catch {
      return undefined;
    }
  }

  /** Writes a raft_state.json (e.g. a fixture) into the storage; use while stopped. */
  writeStateFile(text: string): void {
    fs.mkdirSync(this.storageDir, { recursive: true });
    fs.writeFileSync(path.join(this.storageDir, 'raft_state.json'), text);
  }

  /** Every log record since the handle was created, or only of the current lifetime. */
  logs(opts: { sinceLastStart?: boolean } = {}): LogRecord[] {
    const all = this.log.records();
    return opts.sinceLastStart ? all.slice(this.lifetimeStart) : all;
  }

  /** Log lines as `kubectl logs` would print them. */
  logLines(opts: { sinceLastStart?: boolean } = {}): string[] {
    return this.logs(opts).map((r) => r.line);
  }

  status(): PeerStatus | undefined {
    return this.running ? this.peer!.status() : undefined;
  }

  /** Creates a collection through consensus (same as PUT /collections/{name}). */
  async createCollection(spec: CollectionSpec): Promise<void> {
    if (!this.peer || !this.running) throw new Error(`${this.name} is not running`);
    const created = this.peer.createCollection(spec);
    await (this.opts.sim ? this.opts.sim.drive(created) : created);
  }

  /** The simulation this peer runs on, if any. */
  get sim(): Simulation | undefined {
    return this.opts.sim;
  }

  /** Polls `predicate` until it holds; rejects with `what` after the timeout. */
  async waitFor(what: string, predicate: () => boolean, opts: WaitOptions = {}): Promise<void> {
    await waitUntil(what, () => (predicate() ? undefined : 'not yet'), { ...(this.opts.sim ? { sim: this.opts.sim } : {}), ...opts });
  }
}

export async function waitUntil(what: string, why: () => string | undefined, opts: WaitOptions = {}): Promise<void> {
  if (opts.sim) return opts.sim.until(what, why, { maxMs: opts.timeoutMs ?? 15_000 });
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  let reason = why();
  while (reason !== undefined) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${reason}`);
    await sleep(opts.intervalMs ?? 25);
    reason = why();
  }
}

/** Starts one emulated peer in this process. */
export async function startPeer(opts: StartPeerOptions): Promise<EmulatedPeerHandle> {
  const h = new EmulatedPeerHandle(opts);
  await h.start();
  return h;
}

// ------------------------------------------------------------------ clusters

export interface StartClusterOptions
  extends Omit<StartPeerOptions, 'name' | 'host' | 'uri' | 'bootstrap' | 'rootDir' | 'storageDir' | 'snapshotsDir' | 'logFile' | 'peerId'> {
  /** Number of peers (StatefulSet replicas). */
  peers: number;
  /** StatefulSet name, default `qdrant`: peers are `qdrant-0`, `qdrant-1`, ... */
  statefulSet?: string;
  /** Headless service for URIs `http://qdrant-N.<headless>:6335/` (resolved in-process); default `qdrant-headless`. */
  headlessService?: string;
  /** false: URIs use the IPs directly. Default true, as the chart does. */
  hostnames?: boolean;
  /** Explicit addresses, one per peer; default free 127.2.x.y addresses. */
  hosts?: string[];
  /** Ids for the peers' fresh storage, one per peer (e.g. ids above 2^53). */
  peerIds?: string[];
  /** raft_state.json texts written into each peer's storage before it starts (e.g. fixtures). */
  stateFiles?: Array<string | undefined>;
  rootDir?: string;
  /** Wait until every peer agrees (default true). */
  waitForConvergence?: boolean;
  timeoutMs?: number;
}

export interface EmulatorClusterEndpoint {
  pod: string;
  ordinal: number;
  url: string;
}

export class EmulatorCluster {
  readonly rootDir: string;
  readonly peers: EmulatedPeerHandle[];
  /** hostname -> IP, as cluster DNS would answer; updated when a peer moves. */
  readonly dns: Map<string, string>;
  private readonly ownsRoot: boolean;
  /** The simulation the peers run on, if any (then waits step it). */
  readonly sim?: Simulation;

  constructor(rootDir: string, peers: EmulatedPeerHandle[], dns: Map<string, string>, ownsRoot: boolean, sim?: Simulation) {
    this.rootDir = rootDir;
    this.peers = peers;
    this.dns = dns;
    this.ownsRoot = ownsRoot;
    if (sim) this.sim = sim;
  }

  peer(ordinalOrName: number | string): EmulatedPeerHandle {
    const p = typeof ordinalOrName === 'number' ? this.peers[ordinalOrName] : this.peers.find((x) => x.name === ordinalOrName);
    if (!p) throw new Error(`no peer ${ordinalOrName}`);
    return p;
  }

  /** What the hooks get from the Kubernetes API: pod name, ordinal, REST base URL by IP. */
  endpoints(): EmulatorClusterEndpoint[] {
    return this.peers.map((p, ordinal) => ({ pod: p.name, ordinal, url: p.url }));
  }

  /**
   * Restart one peer and keep the in-process DNS current when its address changes.
   * Same options as EmulatedPeerHandle.restart.
   */
  async restartPeer(ordinal: number, opts: RestartOptions = {}): Promise<void> {
    const p = this.peer(ordinal);
    if (opts.host) {
      for (const name of this.dns.keys()) if (name === p.name || name.startsWith(`${p.name}.`)) this.dns.set(name, opts.host);
    }
    await p.restart(opts);
  }

  /** Why the running peers do not (yet) agree, or undefined when they do. */
  divergence(opts: { metadata?: boolean } = {}): string | undefined {
    const running = this.peers.filter((p) => p.running && p.mode.mode !== 'unreachable');
    if (running.length === 0) return 'no peer is running';
    const st = running.map((p) => ({ p, s: p.status()! }));
    const ids = new Set(st.map((x) => x.s.peerId));
    for (const { p, s } of st) {
      if (s.looping) return `${p.name} is replaying its log (#6229)`;
      if (!s.leaderId) return `${p.name} has no leader`;
      if (s.applied !== s.commit) return `${p.name} applied ${s.applied} of ${s.commit}`;
      if (s.lastIndex !== s.commit) return `${p.name} has entries up to ${s.lastIndex}, committed ${s.commit}`;
      for (const id of ids) if (!(id in s.peers)) return `${p.name} does not know peer ${id}`;
      if (!s.ready) return `${p.name} is not ready`;
      if (opts.metadata) {
        for (const { p: other, s: os } of st) {
          if (s.metadata[os.peerId] !== other.version) {
            return `${p.name} records ${other.name} (${os.peerId}) on ${s.metadata[os.peerId] ?? 'no version'}, it runs ${other.version}`;
          }
        }
      }
    }
    const first = st[0]!.s;
    for (const { p, s } of st) {
      if (s.leaderId !== first.leaderId) return `${p.name} follows ${s.leaderId}, ${st[0]!.p.name} follows ${first.leaderId}`;
      if (s.term !== first.term) return `${p.name} is at term ${s.term}, ${st[0]!.p.name} at ${first.term}`;
      if (s.commit !== first.commit) return `${p.name} is at commit ${s.commit}, ${st[0]!.p.name} at ${first.commit}`;
    }
    return undefined;
  }

  /**
   * Waits until one leader, one term, equal commits, everything applied, all peers known and ready;
   * with `metadata`, also until every peer records every running peer's own version.
   */
  async waitForConvergence(opts: WaitOptions & { metadata?: boolean } = {}): Promise<void> {
    await waitUntil('cluster convergence', () => this.divergence(opts), { timeoutMs: 20_000, ...(this.sim ? { sim: this.sim } : {}), ...opts });
  }

  /** Stops every peer. */
  async stop(): Promise<void> {
    await Promise.all(this.peers.map((p) => p.stop()));
  }

  /** Stops every peer and removes the root dir (when the cluster created it). */
  async destroy(): Promise<void> {
    await this.stop();
    if (this.ownsRoot) fs.rmSync(this.rootDir, { recursive: true, force: true });
  }
}

/**
 * Starts `peers` emulated Qdrant peers as a StatefulSet would: `qdrant-0` bootstraps the cluster
 * with `--uri`, the others join with `--bootstrap <qdrant-0> --uri <self>`. Each peer binds its own
 * loopback address on ports 6333/6335 by default.
 */
export async function startEmulatorCluster(opts: StartClusterOptions): Promise<EmulatorCluster> {
  const sts = opts.statefulSet ?? 'qdrant';
  const headless = opts.headlessService ?? 'qdrant-headless';
  const ownsRoot = opts.rootDir === undefined;
  const rootDir = opts.rootDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'qdrant-emulator-cluster-'));
  const dns = new Map<string, string>();
  const external =
    typeof opts.resolve === 'function' ? opts.resolve : opts.resolve ? mapResolver(opts.resolve) : undefined;
  const resolver = chainResolvers(mapResolver(dns), external, opts.resolveFile ? fileResolver(opts.resolveFile) : undefined);
  const useNames = opts.hostnames ?? true;
  const p2pPort = opts.p2pPort ?? 6335;
  const handles: EmulatedPeerHandle[] = [];
  for (let i = 0; i < opts.peers; i++) {
    const name = `${sts}-${i}`;
    const host = opts.hosts?.[i] ?? allocateLoopback();
    const fqdn = `${name}.${headless}`;
    dns.set(fqdn, host);
    const uriOf = (n: number): string =>
      useNames ? `http://${sts}-${n}.${headless}:${p2pPort}` : `http://${opts.hosts?.[n] ?? dns.get(`${sts}-${n}.${headless}`)}:${p2pPort}`;
    const { peers: _n, statefulSet: _s, headlessService: _h, hostnames: _u, hosts: _hs, peerIds, stateFiles: _f, waitForConvergence: _w, timeoutMs: _t, ...peerOpts } = opts;
    handles.push(
      new EmulatedPeerHandle(
        {
          ...peerOpts,
          name,
          host,
          rootDir: path.join(rootDir, name),
          uri: uriOf(i),
          ...(i > 0 ? { bootstrap: uriOf(0) } : {}),
          ...(peerIds?.[i] ? { peerId: peerIds[i] } : {}),
          ...(opts.defaultCollection === undefined
            ? { defaultCollection: { name: 'demo', shardNumber: 1, replicationFactor: opts.peers } }
            : {}),
        },
        resolver,
      ),
    );
  }
  opts.stateFiles?.forEach((text, i) => {
    if (text !== undefined) handles[i]?.writeStateFile(text);
  });
  const cluster = new EmulatorCluster(rootDir, handles, dns, ownsRoot, opts.sim);
  try {
    await handles[0]!.start();
    // Under a simulation, one after the other: the order peers set their first timers in is part
    // of what a seed replays.
    if (opts.sim) for (const h of handles.slice(1)) await h.start();
    else await Promise.all(handles.slice(1).map((h) => h.start()));
    if (opts.waitForConvergence ?? true) await cluster.waitForConvergence({ timeoutMs: opts.timeoutMs ?? 20_000 });
  } catch (err) {
    await cluster.destroy();
    throw err;
  }
  return cluster;
}
