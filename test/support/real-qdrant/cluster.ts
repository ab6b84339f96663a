/**
 * Real Qdrant peers on loopback, started the way the chart starts them (chart/templates/qdrant-configmap.yaml):
 * working directory = the peer's folder (the pod's /qdrant), config/production.yaml = the chart's `config`
 * values, RUN_MODE=production as in Qdrant's image, storage in ./storage, ordinal 0 with `--uri` only, the
 * others with `--bootstrap <peer 0> --uri <own>`, on every start (Qdrant ignores both once a raft state exists).
 * Ports differ per peer because all share 127.0.0.1; they stay inside 30000-30999, below the ephemeral range.
 *
 * Not a double: these are the upstream binaries (see binaries.ts). Every process is tracked by pid and
 * stopped by `stopAll()` (call it from an `after` hook) and, as a last resort, when the test process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { parseLossless, toClusterStatus, toCollectionCluster } from '../../../hook/qdrant/parse.js';
import { resolveQdrantBinary } from './binaries.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export const PORT_MIN = 30000;
/** 30000-30999 for the real-Qdrant tests, 31000-31499 for the emulator contract test (emulator-contract.test.ts). */
export const PORT_MAX = 31499;
/** Ports per peer: http, grpc, p2p. Peers of one base use base + 10 * ordinal. */
const PORTS_PER_PEER = 10;

export type LogFormat = 'text' | 'json';

/** The chart's `config` values, as the ConfigMap renders them into production.yaml (`toYaml .Values.config`). */
export function chartQdrantConfig(): Record<string, unknown> {
  const values = YAML.parse(fs.readFileSync(path.join(repoRoot, 'chart', 'values.yaml'), 'utf8')) as { config?: Record<string, unknown> };
  return values.config ?? {};
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) {
    try {
      if (c.pid) process.kill(c.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

export interface HttpAnswer {
  status: number;
  text: string;
  /** Milliseconds the request took. */
  ms: number;
}

export interface PeerStartOptions {
  /** Default: the cluster's version. */
  version?: string;
  logFormat?: LogFormat;
  env?: Record<string, string>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RealQdrantPeer {
  readonly dir: string;
  readonly storage: string;
  readonly http: number;
  readonly grpc: number;
  readonly p2p: number;
  /** What the peer announces (`--uri`). */
  readonly uri: string;
  version: string;
  logFormat: LogFormat;
  /** One file per start, in order. */
  readonly logFiles: string[] = [];
  private child?: ChildProcess;
  private exited?: Promise<number | null>;
  private exitCode?: number | null;

  constructor(
    readonly cluster: RealQdrantCluster,
    readonly ordinal: number,
  ) {
    this.dir = path.join(cluster.root, `qdrant-${ordinal}`);
    this.storage = path.join(this.dir, 'storage');
    const base = cluster.portBase + PORTS_PER_PEER * ordinal;
    [this.http, this.grpc, this.p2p] = [base, base + 1, base + 2];
    this.uri = `http://127.0.0.1:${this.p2p}`;
    this.version = cluster.version;
    this.logFormat = cluster.logFormat;
  }

  get name(): string {
    return `qdrant-${this.ordinal}`;
  }

  get url(): string {
    return `http://127.0.0.1:${this.http}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.exitCode === undefined;
  }

  /** The current (last) start's log file. */
  get logFile(): string {
    const f = this.logFiles[this.logFiles.length - 1];
    if (!f) throw new Error(`${this.name} was never started`);
    return f;
  }

  /** The chart's initialize.sh arguments for this ordinal. */
  args(): string[] {
    const seed = this.cluster.peers[0]!.uri;
    return this.ordinal === 0 ? ['--uri', this.uri] : ['--bootstrap', seed, '--uri', this.uri];
  }

  async start(opts: PeerStartOptions = {}): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running (pid ${this.pid})`);
    this.version = opts.version ?? this.version;
    this.logFormat = opts.logFormat ?? this.logFormat;
    const bin = await resolveQdrantBinary(this.version);
    if (!bin) throw new Error(`no Qdrant ${this.version} binary in QDRANT_BIN_DIR (${process.env.QDRANT_BIN_DIR ?? 'unset'})`);
    fs.mkdirSync(path.join(this.dir, 'config'), { recursive: true });
    fs.mkdirSync(path.join(this.dir, 'init'), { recursive: true });
    fs.writeFileSync(path.join(this.dir, 'config', 'production.yaml'), YAML.stringify(chartQdrantConfig()));
    const logFile = path.join(this.cluster.root, 'logs', `${this.name}.${this.logFiles.length + 1}.v${this.version}.${this.logFormat}.log`);
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    this.logFiles.push(logFile);
    const fd = fs.openSync(logFile, 'a');
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: this.dir,
      RUN_MODE: 'production',
      QDRANT_INIT_FILE_PATH: path.join(this.dir, 'init', '.qdrant-initialized'),
      QDRANT__SERVICE__HTTP_PORT: String(this.http),
      QDRANT__SERVICE__GRPC_PORT: String(this.grpc),
      QDRANT__CLUSTER__P2P__PORT: String(this.p2p),
      QDRANT__SERVICE__HOST: '127.0.0.1',
      // No network but loopback: the telemetry reporter would try to reach telemetry.qdrant.io.
      QDRANT__TELEMETRY_DISABLED: 'true',
      ...(this.logFormat === 'json' ? { QDRANT__LOGGER__FORMAT: 'json' } : {}),
      ...this.cluster.env,
      ...opts.env,
    };
    const child = spawn(bin.path, this.args(), { cwd: this.dir, env, stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    this.child = child;
    this.exitCode = undefined;
    live.add(child);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        live.delete(child);
        this.exitCode = code ?? (signal ? -1 : null);
        resolve(this.exitCode);
      });
      child.once('error', () => {
        live.delete(child);
        this.exitCode = -1;
        resolve(-1);
      });
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 10_000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || this.exitCode !== undefined || !child.pid) return;
    try {
      // A frozen peer (SIGSTOP) would never see the SIGTERM.
      process.kill(child.pid, 'SIGCONT');
      process.kill(child.pid, signal);
    } catch {
      /* gone already */
    }
    const killed = await Promise.race([this.exited!.then(() => true), sleep(graceMs).then(() => false)]);
    if (!killed) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      await this.exited;
    }
  }

  /** Sends a signal by pid (SIGSTOP freezes the peer: it keeps its sockets but answers nothing; SIGCONT resumes it). */
  signal(sig: NodeJS.Signals): void {
    if (!this.running || !this.child?.pid) throw new Error(`${this.name} is not running`);
    process.kill(this.child.pid, sig);
  }

  /** Resolves with the exit code when the process ends within `ms`, else undefined. */
  async waitExit(ms: number): Promise<number | null | undefined> {
    if (!this.exited) return undefined;
    return Promise.race([this.exited, sleep(ms).then(() => undefined)]);
  }

  async request(method: string, p: string, body?: unknown, timeoutMs = 15_000): Promise<HttpAnswer> {
    const t0 = Date.now();
    const res = await fetch(this.url + p, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: res.status, text: await res.text(), ms: Date.now() - t0 };
  }

  /** GET, or undefined when nothing answers (connection refused, timeout). */
  async tryGet(p: string, timeoutMs = 3_000): Promise<HttpAnswer | undefined> {
    try {
      return await this.request('GET', p, undefined, timeoutMs);
    } catch {
      return undefined;
    }
  }

  /**
   * Polls until `ok(answer)` holds or `ms` pass; fails early, with the log's tail, when the process exits.
   */
  async waitFor(p: string, ok: (a: HttpAnswer) => boolean, ms: number, what: string): Promise<HttpAnswer> {
    const deadline = Date.now() + ms;
    let last: HttpAnswer | undefined;
    while (Date.now() < deadline) {
      if (this.exitCode !== undefined) {
        throw new Error(`${this.name} (Qdrant ${this.version}) exited with ${this.exitCode} while waiting for ${what}:\n${this.logTail()}`);
      }
      last = await this.tryGet(p);
      if (last && ok(last)) return last;
      await sleep(250);
    }
    throw new Error(
      `${this.name} (Qdrant ${this.version}): no ${what} within ${ms} ms (last: ${last ? `${last.status} ${last.text.slice(0, 200)}` : 'no answer'}):\n${this.logTail()}`,
    );
  }

  /** /readyz answers 200. */
  waitReady(ms = 90_000): Promise<HttpAnswer> {
    return this.waitFor('/readyz', (a) => a.status === 200, ms, 'ready /readyz');
  }

  /** Every start's log, concatenated. */
  logText(): string {
    return this.logFiles.map((f) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '')).join('');
  }

  /** The current start's log. */
  currentLog(): string {
    return fs.existsSync(this.logFile) ? fs.readFileSync(this.logFile, 'utf8') : '';
  }

  logTail(lines = 30): string {
    if (this.logFiles.length === 0) return '(no log)';
    return this.currentLog().split('\n').slice(-lines).join('\n');
  }

  /** Waits until the current log holds a line matching `re`. */
  async waitForLog(re: RegExp, ms: number): Promise<string> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const line = this.currentLog().split('\n').find((l) => re.test(l));
      if (line) return line;
      await sleep(250);
    }
    throw new Error(`${this.name}: no log line matching ${re} within ${ms} ms:\n${this.logTail()}`);
  }

  raftStatePath(): string {
    return path.join(this.storage, 'raft_state.json');
  }

  readRaftState(): string {
    return fs.readFileSync(this.raftStatePath(), 'utf8');
  }

  /** The incident: raft_state.json gone from a stopped peer's volume. */
  deleteRaftState(): void {
    if (this.running) throw new Error(`${this.name} is running: stop it before deleting its raft state`);
    fs.rmSync(this.raftStatePath());
  }

  /** Stop, then start again on the same storage, at `version` when given (a rolling upgrade step). */
  async restart(opts: PeerStartOptions = {}): Promise<void> {
    await this.stop();
    await this.start(opts);
  }
}

export interface RealClusterOptions {
  size: number;
  version: string;
  /** First port; peers use base + 10 * ordinal + {0 http, 1 grpc, 2 p2p}. One base per test file. */
  portBase: number;
  logFormat?: LogFormat;
  /** Extra QDRANT__... environment for every peer. */
  env?: Record<string, string>;
  /** Default: a new temp folder. */
  root?: string;
}

export class RealQdrantCluster {
  readonly root: string;
  readonly version: string;
  readonly portBase: number;
  readonly logFormat: LogFormat;
  readonly env: Record<string, string>;
  readonly peers: RealQdrantPeer[];

  constructor(opts: RealClusterOptions) {
    const top = opts.portBase + PORTS_PER_PEER * (opts.size - 1) + 2;
    if (opts.portBase < PORT_MIN || top > PORT_MAX) {
      throw new Error(`ports ${opts.portBase}-${top} leave ${PORT_MIN}-${PORT_MAX} (kept below the ephemeral range)`);
    }
    this.root = opts.root ?? fs.mkdtempSync(path.join(os.tmpdir(), 'qug-real-qdrant-'));
    this.version = opts.version;
    this.portBase = opts.portBase;
    this.logFormat = opts.logFormat ?? 'text';
    this.env = opts.env ?? {};
    this.peers = Array.from({ length: opts.size }, (_, i) => new RealQdrantPeer(this, i));
  }

  peer(i: number): RealQdrantPeer {
    const p = this.peers[i];
    if (!p) throw new Error(`no peer ${i} in a cluster of ${this.peers.length}`);
    return p;
  }

  /**
   * Starts peer 0, waits until it is ready, then the others one by one (a joining peer needs the seed up),
   * and waits until every peer sees all of them in GET /cluster.
   */
  async start(ms = 120_000): Promise<void> {
    const deadline = Date.now() + ms;
    for (const p of this.peers) {
      await p.start();
      await p.waitReady(Math.max(1000, deadline - Date.now()));
    }
    await this.waitMembers(this.peers.length, Math.max(1000, deadline - Date.now()));
  }

  /** Every running peer lists `n` peers in GET /cluster. */
  async waitMembers(n: number, ms = 60_000): Promise<void> {
    for (const p of this.peers.filter((x) => x.running)) {
      await p.waitFor('/cluster', (a) => a.status === 200 && peerCount(a.text) === n, ms, `${n} peers in GET /cluster`);
    }
  }

  /** Stops every peer (in parallel) and keeps the folder for inspection unless `remove`. */
  async stopAll(remove = false): Promise<void> {
    await Promise.all(this.peers.map((p) => p.stop()));
    if (remove) fs.rmSync(this.root, { recursive: true, force: true });
  }

  /** PUT /collections/{name} with tiny 4-d vectors; waits for every replica to be Active on the asking peer. */
  async createCollection(name: string, opts: { shards: number; replicas: number; via?: number }): Promise<void> {
    const p = this.peer(opts.via ?? 0);
    const a = await p.request('PUT', `/collections/${name}`, {
      vectors: { size: 4, distance: 'Dot' },
      shard_number: opts.shards,
      replication_factor: opts.replicas,
    }, 30_000);
    if (a.status !== 200) throw new Error(`create collection ${name} on ${p.name}: HTTP ${a.status} ${a.text}`);
    const expected = opts.shards * Math.min(opts.replicas, this.peers.filter((x) => x.running).length);
    await p.waitFor(
      `/collections/${name}/cluster`,
      (x) => x.status === 200 && activeReplicas(x.text) >= expected,
      60_000,
      `${expected} active replicas of ${name}`,
    );
  }

  /** Upserts points 1..n (ids from `from`), wait=true. */
  async upsertPoints(name: string, n: number, opts: { from?: number; via?: number } = {}): Promise<HttpAnswer> {
    const from = opts.from ?? 1;
    const points = Array.from({ length: n }, (_, i) => ({
      id: from + i,
      vector: [((from + i) % 7) / 7, ((from + i) % 5) / 5, ((from + i) % 3) / 3, 1],
      payload: { n: from + i },
    }));
    const p = this.peer(opts.via ?? 0);
    const a = await p.request('PUT', `/collections/${name}/points?wait=true`, { points }, 30_000);
    if (a.status !== 200) throw new Error(`upsert into ${name} on ${p.name}: HTTP ${a.status} ${a.text}`);
    return a;
  }

  /** Exact point count as peer `via` sees it. */
  async countPoints(name: string, via = 0): Promise<number> {
    const a = await this.peer(via).request('POST', `/collections/${name}/points/count`, { exact: true }, 30_000);
    if (a.status !== 200) throw new Error(`count ${name} on qdrant-${via}: HTTP ${a.status} ${a.text}`);
    return (JSON.parse(a.text) as { result: { count: number } }).result.count;
  }
}

/** Peers in a GET /cluster body, read with the hook's lossless parser (ids are u64). */
export function peerCount(text: string): number {
  try {
    const c = toClusterStatus((parseLossless(text) as { result: unknown }).result);
    return c.status === 'enabled' ? Object.keys(c.peers).length : 0;
  } catch {
    return 0;
  }
}

function activeReplicas(text: string): number {
  try {
    return toCollectionCluster('', (parseLossless(text) as { result: unknown }).result).replicas.filter((r) => r.state === 'Active').length;
  } catch {
    return 0;
  }
}
