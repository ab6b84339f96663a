/**
 * The hooks' view of a REAL Qdrant (QDRANT_BIN_DIR) serving TLS on its REST port with a CA made in this test, with
 * TLS between the peers too (config.cluster.p2p.enable_tls) and both API keys set: the hooks' HTTP adapter observes
 * every peer through the CA with only the read-only key, and p2p TLS changes nothing it needs.
 */
import { expect } from 'chai';
import { HttpQdrantApi } from '../../hook/qdrant/http-api.js';
import { reachFromFlags, type QdrantReach } from '../../hook/qdrant/tls.js';
import type { PeerEndpoint } from '../../hook/qdrant/types.js';
import { RealQdrantCluster, requireQdrantVersions } from '../support/real-qdrant/index.js';
import { makePki, type TestPki } from '../support/tls-certs.js';

const VERSION = '1.13.5';

describe(`real Qdrant ${VERSION}: REST and p2p over TLS, API keys`, function () {
  this.timeout(180_000);
  let pki: TestPki;
  let cluster: RealQdrantCluster;
  let reach: QdrantReach;
  const ep = (i: number): PeerEndpoint => ({ pod: `qdrant-${i}`, ordinal: i, url: `https://127.0.0.1:${cluster.peer(i).http}` });

  before(async function () {
    requireQdrantVersions(this, [VERSION]);
    pki = makePki('guard-real-tls-');
    const { cert, key } = pki.issue('qdrant', ['IP:127.0.0.1', 'DNS:*.qdrant-headless.qdrant.svc.cluster.local']);
    cluster = new RealQdrantCluster({
      size: 2,
      version: VERSION,
      portBase: 30900,
      env: {
        QDRANT__SERVICE__ENABLE_TLS: 'true',
        QDRANT__TLS__CERT: cert,
        QDRANT__TLS__KEY: key,
        QDRANT__TLS__CA_CERT: pki.caFile,
        QDRANT__CLUSTER__P2P__ENABLE_TLS: 'true',
        QDRANT__SERVICE__API_KEY: 'rw-real-key',
        QDRANT__SERVICE__READ_ONLY_API_KEY: 'ro-real-key',
      },
    });
    // As the chart's initialize.sh does with p2p TLS on: https:// peer URIs.
    for (const p of cluster.peers) {
      const uri = `https://127.0.0.1:${p.p2p}`;
      p.args = () => (p.ordinal === 0 ? ['--uri', uri] : ['--bootstrap', `https://127.0.0.1:${cluster.peer(0).p2p}`, '--uri', uri]);
    }
    reach = reachFromFlags({ scheme: 'https', port: cluster.peer(0).http, caFile: pki.caFile });
    const api = new HttpQdrantApi({ timeoutMs: 3000, reach: { ...reach, namespace: 'qdrant' }, readOnlyApiKey: 'ro-real-key' });
    await cluster.peer(0).start();
    await waitFor(async () => (await api.cluster(ep(0))).status === 'enabled');
    await cluster.peer(1).start();
    await waitFor(async () => {
      const c = await api.cluster(ep(0));
      return c.status === 'enabled' && Object.keys(c.peers).length === 2 && c.raft.leader !== undefined;
    });
    await waitFor(async () => (await api.ready(ep(0))).ready && (await api.ready(ep(1))).ready);
  });

  after(async () => {
    if (cluster) for (const p of cluster.peers) await p.stop();
    pki?.dispose();
  });

  it('observes both peers over HTTPS through the CA with only the read-only key; the peer URIs are https (p2p TLS)', async () => {
    const api = new HttpQdrantApi({ timeoutMs: 5000, reach: { ...reach, namespace: 'qdrant' }, readOnlyApiKey: 'ro-real-key' });
    for (const i of [0, 1]) {
      const obs = await api.observe(ep(i));
      expect(obs.error, `qdrant-${i}`).to.equal(undefined);
      expect(obs.version?.version).to.equal(VERSION);
      expect(obs.ready).to.equal(true);
      expect(obs.cluster?.status).to.equal('enabled');
      if (obs.cluster?.status === 'enabled') {
        expect(Object.values(obs.cluster.peers).map((p) => p.uri.slice(0, 8))).to.deep.equal(['https://', 'https://']);
        expect(obs.cluster.peerId).to.match(/^[1-9][0-9]*$/);
      }
    }
  });

  it('a wrong read-only key is refused and named, and neither key is printed', async () => {
    const api = new HttpQdrantApi({ timeoutMs: 5000, reach, apiKey: 'rw-real-key', readOnlyApiKey: 'not-the-key' });
    const obs = await api.observe(ep(0));
    expect(obs.error).to.contain('the read-only API key (QDRANT_READ_ONLY_API_KEY) was refused');
    expect(obs.error).to.not.contain('rw-real-key');
    expect(obs.error).to.not.contain('not-the-key');
  });

  it('without the CA the certificate is refused; plain HTTP gets no answer a verdict could use', async () => {
    const noCa = new HttpQdrantApi({ timeoutMs: 5000, reach: reachFromFlags({ scheme: 'https', port: cluster.peer(0).http }), readOnlyApiKey: 'ro-real-key' });
    expect((await noCa.observe(ep(0))).error).to.contain('presented a certificate that was not accepted');
    const plain = new HttpQdrantApi({ timeoutMs: 5000, readOnlyApiKey: 'ro-real-key' });
    const obs = await plain.observe({ ...ep(0), url: `http://127.0.0.1:${cluster.peer(0).http}` });
    expect(obs.cluster).to.equal(undefined);
  });
});

async function waitFor(cond: () => Promise<boolean>, ms = 90_000): Promise<void> {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    try {
      if (await cond()) return;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out: ${last}`);
}
