/**
 * hook/qdrant/http-api.ts against the Qdrant emulator (a test double) over real HTTP, and against
 * small misbehaving servers: what the hooks observe of each peer (docs/qdrant-facts.md#http-api), exact
 * u64 ids (docs/qdrant-facts.md#peer-ids-are-u64), API keys, and errors that name the pod, the URL, the request and the remedy.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { GuardError } from '../../hook/errors.js';
import { HttpQdrantApi, QdrantRequestError } from '../../hook/qdrant/http-api.js';
import type { PeerEndpoint } from '../../hook/qdrant/types.js';
import { startEmulatorCluster, startPeer, waitUntil, type EmulatorCluster } from '../support/qdrant-emulator/index.js';

const FAST = { pollMs: 50, electionTimeoutMs: 300 };

async function rejection(p: Promise<unknown>): Promise<QdrantRequestError> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(QdrantRequestError);
    expect(err).to.be.instanceOf(GuardError);
    expect((err as GuardError).kind).to.equal('infrastructure');
    return err as QdrantRequestError;
  }
  throw new Error('expected a rejection');
}

/** A server on 127.0.0.1 that answers with `handler`; returns its endpoint. */
async function stubServer(handler: http.RequestListener): Promise<{ ep: PeerEndpoint; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    ep: { pod: 'qdrant-1', ordinal: 1, url: `http://127.0.0.1:${port}` },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('HttpQdrantApi against the Qdrant emulator (docs/qdrant-facts.md#http-api)', function () {
  this.timeout(30_000);

  describe('a healthy 3-peer cluster on 1.13.5', () => {
    let cluster: EmulatorCluster;
    let eps: PeerEndpoint[];
    const api = new HttpQdrantApi({ timeoutMs: 2000 });
    before(async () => {
      cluster = await startEmulatorCluster({ peers: 3, version: '1.13.5', timing: FAST });
      eps = cluster.endpoints();
    });
    after(async () => {
      await cluster?.destroy();
    });

    it('observes every peer: version, ready, one leader, the same term and commit, Active replicas', async () => {
      const obs = await Promise.all(eps.map((ep) => api.observe(ep)));
      for (const o of obs) {
        expect(o.error, o.endpoint.pod).to.equal(undefined);
        expect(o.reachable).to.equal(true);
        expect(o.version?.version).to.equal('1.13.5');
        expect(o.version?.commit).to.match(/^[0-9a-f]{40}$/);
        expect(o.ready).to.equal(true);
        expect(o.readyText).to.equal('all shards are ready');
        expect(o.peerMetadata).to.equal(undefined);
      }
      const clusters = obs.map((o) => o.cluster!);
      const enabled = clusters.map((c) => (c.status === 'enabled' ? c : undefined));
      expect(enabled.map((c) => c?.peerId)).to.deep.equal(cluster.peers.map((p) => p.peerId));
      expect(new Set(enabled.map((c) => c?.raft.leader)).size).to.equal(1);
      expect(new Set(enabled.map((c) => `${c?.raft.term}/${c?.raft.commit}`)).size).to.equal(1);
      expect(enabled.map((c) => c?.raft.pendingOperations)).to.deep.equal([0, 0, 0]);
      expect(enabled.map((c) => c?.consensusThread.status)).to.deep.equal(['working', 'working', 'working']);
      expect(Object.keys(enabled[0]!.peers).sort()).to.deep.equal(cluster.peers.map((p) => p.peerId).sort());
      const demo = obs[1]!.collections!.find((c) => c.collection === 'demo')!;
      expect(demo.peerId).to.equal(cluster.peer(1).peerId);
      expect(demo.replicas.map((r) => r.state)).to.deep.equal(['Active', 'Active', 'Active']);
      expect(demo.replicas.filter((r) => r.local).map((r) => r.peerId)).to.deep.equal([cluster.peer(1).peerId]);
      expect(demo.transfers).to.equal(0);
    });

    it('sends every request through an injected fetch when one is given', async () => {
      const seen: string[] = [];
      const counting = new HttpQdrantApi({
        timeoutMs: 2000,
        fetch: (input, init) => {
          seen.push(new URL(String(input)).pathname);
          return fetch(input, init);
        },
      });
      const o = await counting.observe(eps[0]!);
      expect(o.error).to.equal(undefined);
      expect(seen).to.deep.equal(['/', '/readyz', '/cluster', '/collections', '/collections/demo/cluster']);
    });

    it('reads /readyz 503 as "not ready", not as a failure', async () => {
      await cluster.peer(2).setMode('not-ready');
      try {
        expect(await api.ready(eps[2]!)).to.deep.equal({ ready: false, text: 'some shards are not ready' });
        const o = await api.observe(eps[2]!);
        expect([o.reachable, o.ready, o.readyText, o.error]).to.deep.equal([true, false, 'some shards are not ready', undefined]);
      } finally {
        await cluster.peer(2).setMode('healthy');
      }
    });
  });

  it('keeps peer ids above 2^53 exact from the wire to the observation (docs/qdrant-facts.md#peer-ids-are-u64, PR #631 ids)', async () => {
    const ids = ['11532566549086892528', '9834046559507417430', '18446744073709551000'];
    expect(String(Number(ids[0]))).to.not.equal(ids[0]); // what JSON.parse would have made of it
    const cluster = await startEmulatorCluster({ peers: 3, version: '1.16.1', timing: FAST, peerIds: ids });
    try {
      const api = new HttpQdrantApi({ timeoutMs: 2000 });
      const o = await api.observe(cluster.endpoints()[1]!);
      expect(o.error).to.equal(undefined);
      const c = o.cluster!;
      if (c.status !== 'enabled') throw new Error('cluster mode expected');
      expect(c.peerId).to.equal(ids[1]);
      expect(Object.keys(c.peers).sort()).to.deep.equal([...ids].sort());
      expect(c.raft.leader).to.equal(ids[0]);
      expect(o.collections![0]!.replicas.map((r) => r.peerId).sort()).to.deep.equal([...ids].sort());
      expect(Object.keys(o.peerMetadata!).sort()).to.deep.equal([...ids].sort());
    } finally {
      await cluster.destroy();
    }
  });

  it('reads peer_metadata from telemetry on 1.16+ and gets undefined on 1.13 (docs/qdrant-facts.md#peer-metadata-api)', async () => {
    const newer = await startEmulatorCluster({ peers: 2, version: '1.16.0', timing: FAST });
    const older = await startPeer({ version: '1.13.4', host: '127.0.0.1', port: 0, p2pPort: 0, timing: FAST });
    try {
      await older.waitFor('ready', () => older.status()?.ready === true);
      const api = new HttpQdrantApi({ timeoutMs: 2000 });
      const md = await api.peerMetadata(newer.endpoints()[0]!);
      expect(md).to.deep.equal({ [newer.peer(0).peerId]: { version: '1.16.0' }, [newer.peer(1).peerId]: { version: '1.16.0' } });
      const ep = { pod: 'qdrant-0', ordinal: 0, url: older.url };
      expect(await api.peerMetadata(ep)).to.equal(undefined);
      expect((await api.observe(ep)).peerMetadata).to.equal(undefined);
      await newer.restartPeer(1, { version: '1.17.0' });
      await newer.waitForConvergence({ metadata: true });
      const after = await api.observe(newer.endpoints()[0]!);
      expect(after.peerMetadata![newer.peer(1).peerId]).to.deep.equal({ version: '1.17.0' });
    } finally {
      await newer.destroy();
      await older.stop();
    }
  });

  describe('API keys', () => {
    let cluster: EmulatorCluster;
    before(async () => {
      cluster = await startEmulatorCluster({ peers: 1, version: '1.13.5', timing: FAST, apiKey: 'the-real-key', readOnlyApiKey: 'the-ro-key' });
    });
    after(async () => {
      await cluster?.destroy();
    });

    it('works with the key, and with the read-only key (every call is a GET)', async () => {
      for (const apiKey of ['the-real-key', 'the-ro-key']) {
        const o = await new HttpQdrantApi({ apiKey, timeoutMs: 2000 }).observe(cluster.endpoints()[0]!);
        expect(o.error, apiKey).to.equal(undefined);
        expect(o.cluster?.status).to.equal('enabled');
      }
    });

    it('says the key is missing when none was given (GET / needs none, as in Qdrant)', async () => {
      const api = new HttpQdrantApi({ timeoutMs: 2000 });
      const ep = cluster.endpoints()[0]!;
      expect((await api.version(ep)).version).to.equal('1.13.5');
      const err = await rejection(api.cluster(ep));
      expect(err.message).to.equal(`qdrant-0 (${ep.url}) refused GET /cluster: it requires an API key and none was given (HTTP 401)`);
      expect(err.remedy).to.match(/QDRANT_API_KEY/);
      expect([err.transient, err.answered, err.status]).to.deep.equal([false, true, 401]);
    });

    it('says the key was refused without ever printing it', async () => {
      const secret = 'wrong-key-d3adb33f';
      const api = new HttpQdrantApi({ apiKey: secret, timeoutMs: 2000 });
      const ep = cluster.endpoints()[0]!;
      const err = await rejection(api.collectionNames(ep));
      expect(err.message).to.match(/refused GET \/collections: the API key \(QDRANT_API_KEY\) was refused \(HTTP 401/);
      const o = await api.observe(ep);
      expect(o.reachable).to.equal(true);
      expect(o.error).to.match(/the API key \(QDRANT_API_KEY\) was refused/);
      expect(JSON.stringify(o) + err.message + err.remedy).to.not.contain(secret);
    });

    it('redacts the key even when a server echoes it back', async () => {
      const stub = await stubServer((req, res) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`internal error for key ${String(req.headers['api-key'])}`);
      });
      try {
        const err = await rejection(new HttpQdrantApi({ apiKey: 'echoed-s3cret', timeoutMs: 2000 }).cluster(stub.ep));
        expect(err.message).to.equal(`qdrant-1 (${stub.ep.url}) answered GET /cluster with HTTP 500: internal error for key <redacted>`);
        expect(err.transient).to.equal(true);
      } finally {
        await stub.close();
      }
    });
  });

  describe('failures', () => {
    it('a stopped peer is unreachable: connection refused, transient, observe() does not throw', async () => {
      const p = await startPeer({ version: '1.13.5', host: '127.0.0.1', port: 0, clusterEnabled: false });
      const ep = { pod: 'qdrant-2', ordinal: 2, url: p.url };
      await p.stop();
      const api = new HttpQdrantApi({ timeoutMs: 2000 });
      for (const call of [() => api.cluster(ep), () => api.version(ep)]) {
        const err = await rejection(call());
        expect(err.message).to.match(/^qdrant-2 \(http:\/\/127\.0\.0\.1:\d+\) is unreachable: GET \/(cluster)?: connection (refused \(ECONNREFUSED\)|reset)/);
        expect([err.transient, err.answered]).to.deep.equal([true, false]);
        expect(err.remedy).to.match(/kubectl get pod qdrant-2 -o wide/);
      }
      const o = await api.observe(ep);
      expect(o).to.deep.include({ reachable: false });
      expect(o.error).to.match(/is unreachable/);
      expect(o.version).to.equal(undefined);
    });

    it('a peer that never answers times out after timeoutMs with a message naming pod, URL, request and limit', async () => {
      const stub = await stubServer(() => undefined);
      try {
        const api = new HttpQdrantApi({ timeoutMs: 200 });
        const started = Date.now();
        const err = await rejection(api.cluster(stub.ep));
        expect(Date.now() - started).to.be.below(1500);
        expect(err.message).to.equal(`qdrant-1 (${stub.ep.url}) did not answer GET /cluster within 200 ms`);
        expect(err.transient).to.equal(true);
        const viaClient = await rejection(api.version(stub.ep));
        expect(viaClient.message).to.equal(`qdrant-1 (${stub.ep.url}) did not answer GET / within 200 ms`);
        const o = await api.observe(stub.ep);
        expect([o.reachable, o.error]).to.deep.equal([false, `qdrant-1 (${stub.ep.url}) did not answer GET / within 200 ms`]);
      } finally {
        await stub.close();
      }
    });

    it('a body that is not JSON is reported with its status, content type and an excerpt', async () => {
      const stub = await stubServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html><body>Welcome to nginx!</body></html>');
      });
      try {
        const api = new HttpQdrantApi({ timeoutMs: 2000 });
        const err = await rejection(api.cluster(stub.ep));
        expect(err.message).to.equal(
          `qdrant-1 (${stub.ep.url}) answered GET /cluster with a body that is not JSON (HTTP 200, text/html): <html><body>Welcome to nginx!</body></html>`,
        );
        expect(err.transient).to.equal(false);
        const v = await rejection(api.version(stub.ep));
        expect(v.message).to.match(/answered GET \/ with an unexpected body/);
      } finally {
        await stub.close();
      }
    });

    it('JSON of the wrong shape is named by its field', async () => {
      const stub = await stubServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"result":{"status":"enabled","peer_id":"123","peers":{},"raft_info":{},"consensus_thread_status":{}},"status":"ok","time":0}');
      });
      try {
        const err = await rejection(new HttpQdrantApi({ timeoutMs: 2000 }).cluster(stub.ep));
        expect(err.message).to.match(/answered GET \/cluster with an unexpected body: result\.peer_id is not an unsigned integer \(got string "123"\)/);
      } finally {
        await stub.close();
      }
    });
  });

  describe('fault modes as the hooks see them', () => {
    let cluster: EmulatorCluster;
    let eps: PeerEndpoint[];
    const api = new HttpQdrantApi({ timeoutMs: 2000 });
    before(async () => {
      cluster = await startEmulatorCluster({ peers: 3, version: '1.13.4', timing: FAST });
      eps = cluster.endpoints();
    });
    after(async () => {
      await cluster?.destroy();
    });
    afterEach(async () => {
      for (const p of cluster.peers) if (p.mode.mode !== 'healthy' || !p.running) await p.setMode('healthy');
      await cluster.waitForConvergence({ timeoutMs: 10_000 });
    });

    const enabled = (o: Awaited<ReturnType<HttpQdrantApi['observe']>>) => {
      if (o.cluster?.status !== 'enabled') throw new Error(`no cluster status: ${o.error}`);
      return o.cluster;
    };

    it('lagging: commit behind the leader, pending operations, not ready', async () => {
      await cluster.peer(2).setMode({ mode: 'lagging', lagEntries: 3 });
      const [leader, lagging] = await Promise.all([api.observe(eps[0]!), api.observe(eps[2]!)]);
      expect(BigInt(enabled(lagging).raft.commit) < BigInt(enabled(leader).raft.commit)).to.equal(true);
      expect(enabled(lagging).raft.pendingOperations).to.equal(3);
      expect(lagging.ready).to.equal(false);
    });

    it('new-peer-id: the others list two ids with the same URI (#6348)', async () => {
      const oldId = cluster.peer(1).peerId;
      await cluster.peer(1).setMode('new-peer-id');
      const newId = cluster.peer(1).peerId;
      await waitUntil('duplicate visible', () => (cluster.peer(0).status()!.peers[newId] ? undefined : 'not yet'));
      const o = enabled(await api.observe(eps[0]!));
      expect(o.peers[oldId]!.uri).to.equal(o.peers[newId]!.uri);
      expect(enabled(await api.observe(eps[1]!)).peerId).to.equal(newId);
      // Put the cluster back: the duplicate stays a voter in the shared log, so start afresh.
      await cluster.destroy();
      cluster = await startEmulatorCluster({ peers: 3, version: '1.13.4', timing: FAST });
      eps = cluster.endpoints();
    });

    it('unreachable: reachable false with the reason', async () => {
      await cluster.peer(2).setMode('unreachable');
      const o = await api.observe(eps[2]!);
      expect(o.reachable).to.equal(false);
      expect(o.error).to.match(/qdrant-2 \(.*\) is unreachable: GET \//);
    });

    it('shards-dead: the replica is Dead in the other peers\' view, the peer is not ready', async () => {
      await cluster.peer(1).setMode('shards-dead');
      const id = cluster.peer(1).peerId;
      await waitUntil('Dead on qdrant-0', () => (cluster.peer(0).status()!.collections.demo![0]![id] === 'Dead' ? undefined : 'not yet'));
      const o = await api.observe(eps[0]!);
      expect(o.collections![0]!.replicas.find((r) => r.peerId === id)?.state).to.equal('Dead');
      expect((await api.observe(eps[1]!)).ready).to.equal(false);
    });

    it('consensus stopped: stopped_with_err and its error', async () => {
      await cluster.peer(0).setMode({ mode: 'consensus-stopped', err: 'raft storage corrupted' });
      const o = enabled(await api.observe(eps[0]!));
      expect(o.consensusThread).to.deep.equal({ status: 'stopped_with_err', err: 'raft storage corrupted' });
    });

    it('metadata-loop: no leader, a phantom peer on our own URI, pending operations, not ready (#6229)', async () => {
      await cluster.peer(2).setMode('metadata-loop');
      const o = await api.observe(eps[2]!);
      const c = enabled(o);
      expect(c.raft.leader).to.equal(undefined);
      expect(c.raft.pendingOperations).to.be.greaterThan(0);
      const ownUri = c.peers[c.peerId]!.uri;
      expect(Object.entries(c.peers).filter(([id, p]) => id !== c.peerId && p.uri === ownUri)).to.have.length.greaterThan(0);
      expect([o.ready, o.readyText]).to.deep.equal([false, 'some shards are not ready']);
      await cluster.destroy();
      cluster = await startEmulatorCluster({ peers: 3, version: '1.13.4', timing: FAST });
      eps = cluster.endpoints();
    });

    it('cluster mode off: status disabled', async () => {
      const p = await startPeer({ version: '1.13.5', host: '127.0.0.1', port: 0, clusterEnabled: false });
      try {
        const o = await api.observe({ pod: 'qdrant-0', ordinal: 0, url: p.url });
        expect(o.cluster).to.deep.equal({ status: 'disabled' });
        expect(o.collections![0]!.replicas).to.deep.equal([{ collection: 'demo', shardId: 0, peerId: p.peerId, state: 'Active', local: true }]);
      } finally {
        await p.stop();
      }
    });
  });
});
