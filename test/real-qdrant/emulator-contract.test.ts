/**
 * The Qdrant emulator (a test double, test/support/qdrant-emulator) held to the real server: the same scenarios on
 * both, compared through what the guard reads: the hook's own HTTP adapter (GET /, /readyz, /cluster, /collections,
 * /collections/{name}/cluster, /telemetry on 1.16+), its storage inspection and raft_state.json key order, and its log
 * detector's findings. Ids, terms, commits, URIs and ports differ by nature and are compared as roles (which peer,
 * whether present, whether non-zero); everything else must be equal.
 *
 * Faults the real server cannot be made to show on demand (lagging, consensus-stopped, shards-dead, not-ready) stay
 * emulated only (test/integration/qdrant-emulator.test.ts), each named as emulated there.
 *
 * Ports 31000-31499 (the other real-Qdrant tests use 30000-30999).
 */
import fs from 'node:fs';
import { expect } from 'chai';
import { HttpQdrantApi } from '../../hook/qdrant/http-api.js';
import type { PeerObservation } from '../../hook/qdrant/types.js';
import { scanLogLines, splitLogText } from '../../hook/policy/log-loop.js';
import { inspectStorage } from '../../hook/storage/inspect.js';
import {
  createSimulation,
  startEmulatorCluster,
  type EmulatorCluster,
} from '../support/qdrant-emulator/index.js';
import { RealQdrantCluster, requireQdrantVersions } from '../support/real-qdrant/index.js';

const api = new HttpQdrantApi({ timeoutMs: 10_000 });

/** One side of a scenario: REST base URLs, storage dirs, p2p URIs and log text, by ordinal. */
interface Side {
  /** Nothing restarted: counters that remember past failures are comparable. */
  stable: boolean;
  urls: string[];
  storages: string[];
  uris: string[];
  ids: () => string[];
  log: (ordinal: number) => string;
}

/** What the guard reads from one peer, with ids, URIs, terms and commits replaced by what they mean. */
function guardView(obs: PeerObservation, side: Side): unknown {
  const ids = side.ids();
  const who = (id: string | undefined) => (id === undefined ? undefined : ids.includes(id) ? `peer ${ids.indexOf(id)}` : 'another id');
  const uriOf = (uri: string) => {
    const i = side.uris.findIndex((u) => u.replace(/\/$/, '') === uri.replace(/\/$/, ''));
    return i >= 0 ? `uri of peer ${i}${uri.endsWith('/') ? ' /' : ''}` : `other uri${uri.endsWith('/') ? ' /' : ''}`;
  };
  const c = obs.cluster;
  return {
    reachable: obs.reachable,
    error: obs.error?.replace(/\(http:\/\/[^)]*\)/g, '(<url>)'),
    // `commit` is left out: the binaries built from the release tags here answer without it (the guard reads it as optional).
    version: obs.version?.version,
    ready: obs.ready,
    readyText: obs.readyText,
    cluster:
      c === undefined || c.status === 'disabled'
        ? c
        : {
            status: c.status,
            peerId: who(c.peerId),
            peers: Object.fromEntries(Object.entries(c.peers).map(([id, p]) => [who(id), uriOf(p.uri)])),
            raft: {
              termPositive: BigInt(c.raft.term) > 0n,
              commitPositive: BigInt(c.raft.commit) > 0n,
              pendingOperations: c.raft.pendingOperations > 0 ? 'some' : 0,
              // After a restart, which peer won the next election is timing.
              leader: side.stable || c.raft.leader === undefined ? who(c.raft.leader) : who(c.raft.leader)!.startsWith('peer') ? 'a peer' : who(c.raft.leader),
              role: side.stable || (c.raft.role !== 'Leader' && c.raft.role !== 'Follower') ? c.raft.role : 'Leader or Follower',
              isVoter: c.raft.isVoter,
            },
            consensusThread: c.consensusThread.status,
            // Which peer failed to reach a restarting one, and whether Qdrant still lists it, is timing: compared
            // only where nothing restarted (healthy scenarios).
            messageSendFailures: side.stable ? Object.keys(c.messageSendFailures).length : 'not compared',
          },
    // Which peers hold which shard is Qdrant's placement choice, not something the guard relies on: per shard, the
    // replicas' states and whether each is a known peer; the local replicas are compared cluster-wide (localCounts).
    collections: obs.collections?.map((col) => ({
      collection: col.collection,
      peerId: who(col.peerId),
      transfers: col.transfers,
      shards: new Set(col.replicas.map((r) => r.shardId)).size,
      replicas: col.replicas.map((r) => `${r.state}${r.local ? ' local' : ''}${who(r.peerId) === 'another id' ? ' (another id)' : ''}`).sort(),
    })),
    peerMetadata: obs.peerMetadata && Object.fromEntries(Object.entries(obs.peerMetadata).map(([id, m]) => [who(id), m.version])),
  };
}

async function observeAll(side: Side): Promise<{ views: unknown[]; localCounts: number[] }> {
  const views: unknown[] = [];
  const localCounts: number[] = [];
  for (let i = 0; i < side.urls.length; i++) {
    const obs = await api.observe({ pod: `qdrant-${i}`, ordinal: i, url: side.urls[i]! });
    views.push(guardView(obs, side));
    localCounts.push((obs.collections ?? []).reduce((n, c) => n + c.replicas.filter((r) => r.local).length, 0));
  }
  return { views, localCounts: localCounts.sort() };
}

/** The storage as the guard's inspection sees it, and the raft_state.json keys in file order. */
async function storageView(side: Side): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const dir of side.storages) {
    const i = await inspectStorage(dir);
    const text = fs.existsSync(`${dir}/raft_state.json`) ? fs.readFileSync(`${dir}/raft_state.json`, 'utf8') : '';
    // Top-level keys only: strip nested objects, then read the keys left.
    let flat = text.slice(1, -1);
    for (let prev = ''; prev !== flat; ) {
      prev = flat;
      flat = flat.replace(/\{[^{}]*\}/g, '{}').replace(/\[[^[\]]*\]/g, '[]');
    }
    out.push({
      classification: i.classification,
      stateJson: i.evidence.stateJsonPresent,
      walDir: i.evidence.walDir,
      collections: i.evidence.collections,
      aliases: i.evidence.aliases,
      problem: i.problem?.code,
      stateKeys: [...flat.matchAll(/"([a-z_]+)":/g)].map((m) => m[1]),
    });
  }
  return out;
}

/** The detector's findings over a peer's current log, by kind and severity. */
function logView(side: Side, ordinal: number): Array<{ kind: string; severity: string; looping: boolean }> {
  const findings = scanLogLines(splitLogText(side.log(ordinal)), { pod: `qdrant-${ordinal}`, recordedInitialized: true });
  return findings.map((f) => ({ kind: f.kind, severity: f.severity, looping: f.kind === 'metadata-loop' && f.count >= 20 }));
}

function realSide(c: RealQdrantCluster, stable = true): Side {
  return {
    stable,
    urls: c.peers.map((p) => p.url),
    storages: c.peers.map((p) => p.storage),
    uris: c.peers.map((p) => p.uri),
    ids: () => c.peers.map((p) => (fs.existsSync(p.raftStatePath()) ? /"this_peer_id":(\d+)/.exec(p.readRaftState())?.[1] ?? '' : '')),
    log: (i) => c.peer(i).currentLog(),
  };
}

function emulatorSide(c: EmulatorCluster, stable = true): Side {
  return {
    stable,
    urls: c.peers.map((p) => p.url),
    storages: c.peers.map((p) => p.storageDir),
    uris: c.peers.map((p) => p.p2pUri),
    ids: () => c.peers.map((p) => p.peerId),
    log: (i) => c.peer(i).logLines({ sinceLastStart: true }).join('\n'),
  };
}

describe('the Qdrant emulator agrees with the real server on what the guard reads', function () {
  this.timeout(600_000);
  const real: RealQdrantCluster[] = [];
  const emulated: EmulatorCluster[] = [];

  before(function () {
    requireQdrantVersions(this, ['1.13.4', '1.13.5', '1.16.3']);
  });

  after(async function () {
    this.timeout(120_000);
    for (const c of real) await c.stopAll(true);
    for (const c of emulated) await c.destroy();
  });

  async function healthy(size: number, version: string, portBase: number) {
    const r = new RealQdrantCluster({ size, version, portBase });
    real.push(r);
    await r.start();
    // 3 shards x 2 replicas on 3 peers: two replicas each, whatever peers Qdrant picks (its placement is its own).
    await r.createCollection('books', { shards: size === 1 ? 2 : 3, replicas: Math.min(2, size) });
    const sim = createSimulation({ seed: size * 100 + portBase });
    const e = await startEmulatorCluster({ peers: size, version, sim, defaultCollection: false, timing: { pollMs: 50, electionTimeoutMs: 300 } });
    emulated.push(e);
    await e.peer(0).createCollection({ name: 'books', shardNumber: size === 1 ? 2 : 3, replicationFactor: Math.min(2, size) });
    await e.waitForConvergence();
    return { real: realSide(r), emulated: emulatorSide(e) };
  }

  for (const [size, version, portBase] of [
    [1, '1.13.5', 31000],
    [3, '1.13.5', 31100],
    [3, '1.16.3', 31200],
  ] as const) {
    it(`${size} healthy peer(s) on ${version}: the same answers, storage and log findings`, async () => {
      const s = await healthy(size, version, portBase);
      expect(await observeAll(s.emulated)).to.deep.equal(await observeAll(s.real));
      expect(await storageView(s.emulated)).to.deep.equal(await storageView(s.real));
      for (let i = 0; i < size; i++) expect(logView(s.emulated, i), `log of peer ${i}`).to.deep.equal(logView(s.real, i));
    });
  }

  it('1.13.4 -> 1.13.5 with raft_state.json deleted (#6229, one peer): the same answers, storage and log findings', async () => {
    const r = new RealQdrantCluster({ size: 1, version: '1.13.4', portBase: 31300 });
    real.push(r);
    await r.start();
    await r.createCollection('books', { shards: 1, replicas: 1 });
    await r.peer(0).stop();
    r.peer(0).deleteRaftState();
    await r.peer(0).start({ version: '1.13.5' });
    // The real peer opens its REST port only after replaying (about 11 s here).
    await r.peer(0).waitReady(60_000);

    const sim = createSimulation({ seed: 6229 });
    const e = await startEmulatorCluster({ peers: 1, version: '1.13.4', sim, defaultCollection: false, timing: { pollMs: 50, electionTimeoutMs: 300 } });
    emulated.push(e);
    await e.peer(0).createCollection({ name: 'books', shardNumber: 1, replicationFactor: 1 });
    await e.restartPeer(0, { version: '1.13.5', deleteStateFile: true });
    await sim.run(5000);

    const rs = realSide(r, false);
    const es = emulatorSide(e, false);
    expect(await observeAll(es)).to.deep.equal(await observeAll(rs));
    expect(await storageView(es)).to.deep.equal(await storageView(rs));
    expect(logView(es, 0)).to.deep.equal(logView(rs, 0));
  });

  it('1.13.4 -> 1.13.5 with qdrant-1 losing raft_state.json (three peers): the same answers, storage and log findings', async () => {
    const r = new RealQdrantCluster({ size: 3, version: '1.13.4', portBase: 31400 });
    real.push(r);
    await r.start();
    await r.createCollection('books', { shards: 3, replicas: 2 });
    await r.peer(1).stop();
    r.peer(1).deleteRaftState();
    await r.peer(1).start({ version: '1.13.5' });
    await r.waitMembers(4, 60_000);
    for (const p of r.peers) await p.waitReady(60_000);

    const sim = createSimulation({ seed: 6348 });
    const e = await startEmulatorCluster({ peers: 3, version: '1.13.4', sim, defaultCollection: false, timing: { pollMs: 50, electionTimeoutMs: 300 } });
    emulated.push(e);
    await e.peer(0).createCollection({ name: 'books', shardNumber: 3, replicationFactor: 2 });
    await e.waitForConvergence();
    await e.restartPeer(1, { version: '1.13.5', deleteStateFile: true });
    await sim.until('four peers known everywhere, all ready', () =>
      e.peers.every((p) => Object.keys(p.status()!.peers).length === 4 && p.status()!.ready) ? undefined : 'not yet',
    );

    const rs = realSide(r, false);
    const es = emulatorSide(e, false);
    expect((await observeAll(es)).views).to.deep.equal((await observeAll(rs)).views);
    expect(await storageView(es)).to.deep.equal(await storageView(rs));
    for (let i = 0; i < 3; i++) expect(logView(es, i), `log of peer ${i}`).to.deep.equal(logView(rs, i));
  });

  it('1.13.4 -> 1.13.5 with qdrant-0, the seed, losing raft_state.json (three peers): the same answers, storage and log findings', async () => {
    const r = new RealQdrantCluster({ size: 3, version: '1.13.4', portBase: 31460 });
    real.push(r);
    await r.start();
    await r.createCollection('books', { shards: 3, replicas: 2 });
    await r.peer(0).stop();
    r.peer(0).deleteRaftState();
    await r.peer(0).start({ version: '1.13.5' });
    for (const p of r.peers) await p.waitReady(60_000);
    await r.peer(1).waitFor('/cluster', (a) => /"leader":\d+/.test(a.text), 30_000, 'a leader on qdrant-1');

    const sim = createSimulation({ seed: 2147 });
    const e = await startEmulatorCluster({ peers: 3, version: '1.13.4', sim, defaultCollection: false, timing: { pollMs: 50, electionTimeoutMs: 300 } });
    emulated.push(e);
    await e.peer(0).createCollection({ name: 'books', shardNumber: 3, replicationFactor: 2 });
    await e.waitForConvergence();
    await e.restartPeer(0, { version: '1.13.5', deleteStateFile: true });
    await sim.until('every peer ready with a leader', () => (e.peers.every((p) => p.status()!.ready && p.status()!.leaderId) ? undefined : 'not yet'));
    await sim.run(3000);

    const rs = realSide(r, false);
    const es = emulatorSide(e, false);
    expect((await observeAll(es)).views).to.deep.equal((await observeAll(rs)).views);
    expect(await storageView(es)).to.deep.equal(await storageView(rs));
    for (let i = 0; i < 3; i++) expect(logView(es, i), `log of peer ${i}`).to.deep.equal(logView(rs, i));
  });

  it('1.16.3 with qdrant-1 losing raft_state.json (three peers): refused, the peer panics with 101, the others agree', async () => {
    const r = new RealQdrantCluster({ size: 3, version: '1.16.3', portBase: 31430 });
    real.push(r);
    await r.start();
    await r.createCollection('books', { shards: 3, replicas: 2 });
    await r.peer(1).stop();
    r.peer(1).deleteRaftState();
    await r.peer(1).start();
    const realExit = await r.peer(1).waitExit(60_000);

    const sim = createSimulation({ seed: 1163 });
    const e = await startEmulatorCluster({ peers: 3, version: '1.16.3', sim, defaultCollection: false, timing: { pollMs: 50, electionTimeoutMs: 300 } });
    emulated.push(e);
    await e.peer(0).createCollection({ name: 'books', shardNumber: 3, replicationFactor: 2 });
    await e.waitForConvergence();
    await e.restartPeer(1, { deleteStateFile: true });
    await sim.until('qdrant-1 to panic', () => (e.peer(1).running ? 'still running' : undefined), { maxMs: 60_000 });

    expect(e.peer(1).engine!.panicked).to.equal(realExit);
    const rs = realSide(r, false);
    const es = emulatorSide(e, false);
    expect((await observeAll(es)).views).to.deep.equal((await observeAll(rs)).views);
    expect(await storageView(es)).to.deep.equal(await storageView(rs));
    for (let i = 0; i < 3; i++) expect(logView(es, i), `log of peer ${i}`).to.deep.equal(logView(rs, i));
  });
});
