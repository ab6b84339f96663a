/**
 * The emulator's REST responses against Qdrant's own OpenAPI specs (docs/qdrant-facts.md#http-api):
 * every field name and type of /cluster, /collections/{name}/cluster, /telemetry, / and
 * /collections, in healthy and faulty states, for 1.13.5 and 1.19.0.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { startEmulatorCluster, startPeer, type EmulatorCluster, type EmulatedPeerHandle } from '../support/qdrant-emulator/index.js';
import { loadSpec, validate, validateBody, responseSchema, type OpenApiSpec } from '../support/qdrant-emulator/openapi-check.js';
import { parse } from 'lossless-json';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const specDir = path.resolve(repoRoot, 'test/fixtures/qdrant-openapi');
const FAST = { pollMs: 50, electionTimeoutMs: 300 };

async function body(url: string, route: string): Promise<string> {
  const res = await fetch(url + route);
  expect(res.status, `${route} status`).to.equal(200);
  return res.text();
}

async function expectValid(spec: OpenApiSpec, p: EmulatedPeerHandle, route: string, specPath: string): Promise<void> {
  const text = await body(p.url, route);
  const errors = validateBody(spec, specPath, text);
  expect(errors, `${route} on ${p.version}: ${text}`).to.deep.equal([]);
}

describe('Qdrant emulator responses match the OpenAPI specs (docs/qdrant-facts.md#http-api)', function () {
  this.timeout(30_000);

  describe('the schema walker itself', () => {
    const spec = loadSpec(path.join(specDir, 'openapi-1.13.5.json'));
    it('rejects a peer id sent as a string, an unknown field and a bad enum value', () => {
      const good = '{"result":{"status":"enabled","peer_id":1,"peers":{},"raft_info":{"term":1,"commit":1,"pending_operations":0,"leader":1,"role":"Leader","is_voter":true},"consensus_thread_status":{"consensus_thread_status":"working","last_update":"2025-01-01T00:00:00Z"},"message_send_failures":{}},"status":"ok","time":0.1}';
      expect(validateBody(spec, '/cluster', good)).to.deep.equal([]);
      expect(validateBody(spec, '/cluster', good.replace('"peer_id":1', '"peer_id":"1"')).join()).to.match(/peer_id: expected integer/);
      expect(validateBody(spec, '/cluster', good.replace('"is_voter":true', '"is_voter":true,"isVoter":true')).join()).to.match(/"isVoter" is not in the schema/);
      expect(validateBody(spec, '/cluster', good.replace('"role":"Leader"', '"role":"Boss"')).join()).to.match(/anyOf/);
    });
    it('accepts the public Qdrant collection cluster response of issue #1662 and the u64 ids of PR #631', async () => {
      const fs = await import('node:fs');
      const pub = path.resolve(repoRoot, 'test/fixtures/raft-state/public');
      const c = fs.readFileSync(path.join(pub, 'issue-1662_v1.4.1_get-collection-cluster-response.json'), 'utf8');
      expect(validateBody(spec, '/collections/{collection_name}/cluster', c)).to.deep.equal([]);
      const raft = (parse(fs.readFileSync(path.join(pub, 'pr-631_v0.8-dev_get-cluster-response_bigint-peer-ids.json'), 'utf8')) as { result: { raft_info: unknown } }).result.raft_info;
      // 0.8-dev had no is_voter yet: the walker notices, which shows it reads `required`.
      expect(validate(spec, { $ref: '#/components/schemas/RaftInfo' }, raft).join()).to.match(/missing required "is_voter"/);
      expect(responseSchema(spec, '/telemetry')).to.have.property('type', 'object');
    });
  });

  for (const version of ['1.13.5', '1.19.0']) {
    describe(`a 3-peer cluster on ${version}`, () => {
      const spec = loadSpec(path.join(specDir, `openapi-${version}.json`));
      let cluster: EmulatorCluster;
      before(async () => {
        cluster = await startEmulatorCluster({ peers: 3, version, timing: FAST });
      });
      after(async () => {
        await cluster?.destroy();
      });

      it('GET / and GET /collections', async () => {
        await expectValid(spec, cluster.peer(0), '/', '/');
        await expectValid(spec, cluster.peer(0), '/collections', '/collections');
      });
      it('GET /cluster on the leader and on a follower', async () => {
        await expectValid(spec, cluster.peer(0), '/cluster', '/cluster');
        await expectValid(spec, cluster.peer(2), '/cluster', '/cluster');
      });
      it('GET /collections/demo/cluster', async () => {
        await expectValid(spec, cluster.peer(1), '/collections/demo/cluster', '/collections/{collection_name}/cluster');
      });
      it('GET /collections/demo', async () => {
        await expectValid(spec, cluster.peer(1), '/collections/demo', '/collections/{collection_name}');
      });
      for (const level of [0, 1, 2, 3]) {
        it(`GET /telemetry?details_level=${level}`, async () => {
          await expectValid(spec, cluster.peer(1), `/telemetry?details_level=${level}`, '/telemetry');
        });
      }
      it('GET /cluster with message_send_failures while a follower is down', async () => {
        await cluster.peer(2).stop();
        await cluster.peer(0).waitFor('a send failure', () => Object.keys(cluster.peer(0).engine!.messageSendFailures()).length > 0, { timeoutMs: 5000 });
        await expectValid(spec, cluster.peer(0), '/cluster', '/cluster');
        await cluster.peer(2).start();
      });
      it('GET /cluster and /collections/demo/cluster with faults: lagging, shards-dead, consensus stopped', async () => {
        await cluster.peer(1).setMode('lagging');
        await expectValid(spec, cluster.peer(1), '/cluster', '/cluster');
        await cluster.peer(1).setMode({ mode: 'shards-dead', shardState: 'Partial' });
        await cluster.peer(0).waitFor('Partial replica', () => JSON.stringify(cluster.peer(0).status()?.collections).includes('Partial'), { timeoutMs: 5000 });
        await expectValid(spec, cluster.peer(0), '/collections/demo/cluster', '/collections/{collection_name}/cluster');
        await cluster.peer(1).setMode('consensus-stopped');
        await expectValid(spec, cluster.peer(1), '/cluster', '/cluster');
        await expectValid(spec, cluster.peer(1), '/telemetry?details_level=3', '/telemetry');
      });
    });
  }

  it('GET /cluster and /telemetry with cluster mode disabled', async () => {
    const spec = loadSpec(path.join(specDir, 'openapi-1.13.5.json'));
    const p = await startPeer({ version: '1.13.5', host: '127.0.0.1', port: 0, clusterEnabled: false });
    try {
      const text = await body(p.url, '/cluster');
      expect(JSON.parse(text).result).to.deep.equal({ status: 'disabled' });
      expect(validateBody(spec, '/cluster', text)).to.deep.equal([]);
      await expectValid(spec, p, '/telemetry?details_level=3', '/telemetry');
      await expectValid(spec, p, '/collections/demo/cluster', '/collections/{collection_name}/cluster');
    } finally {
      await p.stop();
    }
  });

  it('GET /cluster of a peer in the emulated metadata-loop fault (leader null, phantom peers)', async () => {
    const spec = loadSpec(path.join(specDir, 'openapi-1.13.5.json'));
    const p = await startPeer({ version: '1.13.4', host: '127.0.0.1', port: 0, p2pPort: 0, uri: 'http://qdrant-0.qdrant-headless:6335', resolve: {}, timing: { ...FAST, loopCap: 20 } });
    try {
      await p.waitFor('ready', () => p.status()?.ready === true);
      await p.restart({ version: '1.13.5', fault: 'metadata-loop' });
      const text = await body(p.url, '/cluster');
      expect(validateBody(spec, '/cluster', text)).to.deep.equal([]);
      expect(JSON.parse(text).result.raft_info.leader).to.equal(null);
    } finally {
      await p.stop();
    }
  });
});
