/**
 * hook/qdrant/parse.ts on public Qdrant responses (test/fixtures/raft-state/public): u64 ids
 * stay exact decimal strings (docs/qdrant-facts.md#peer-ids-are-u64), shapes follow docs/qdrant-facts.md#http-api.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import {
  parseLossless,
  ShapeError,
  toClusterStatus,
  toCollectionCluster,
  toCollectionNames,
  toPeerMetadata,
  toVersionInfo,
} from '../../hook/qdrant/parse.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const pub = path.resolve(repoRoot, 'test/fixtures/raft-state/public');
const result = (file: string): unknown => (parseLossless(fs.readFileSync(path.join(pub, file), 'utf8')) as { result: unknown }).result;

describe('Qdrant response parsing (hook/qdrant/parse.ts)', () => {
  it('keeps the u64 peer ids of the PR #631 GET /cluster answer exact', () => {
    const c = toClusterStatus(result('pr-631_v0.8-dev_get-cluster-response_bigint-peer-ids.json'));
    expect(c).to.deep.equal({
      status: 'enabled',
      peerId: '5721686520442062168',
      peers: {
        '5721686520442062168': { uri: 'http://qdrant_node_1:6335/' },
        '11870689967274302261': { uri: 'http://172.30.0.3:6335/' },
      },
      raft: { term: '1', commit: '4', pendingOperations: 1 },
      consensusThread: { status: 'unknown' },
      messageSendFailures: {},
    });
  });

  it('passes through what the server sent: PR #660 docs show a peer_id already rounded by JSON.parse', () => {
    const c = toClusterStatus(result('pr-660_v0.8-dev_get-cluster-response_bigint-peer-ids.json'));
    if (c.status !== 'enabled') throw new Error('enabled expected');
    expect(c.peerId).to.equal('11532566549086892000');
    expect(Object.keys(c.peers)).to.include('11532566549086892528');
    expect(c.raft.leader).to.equal('11532566549086892000');
    expect(c.raft.role).to.equal('Leader');
  });

  it('reads the issue #1662 collection cluster answer into replicas', () => {
    const c = toCollectionCluster('books', result('issue-1662_v1.4.1_get-collection-cluster-response.json'));
    expect(c).to.deep.equal({
      collection: 'books',
      peerId: '4799098437505445',
      replicas: [
        { collection: 'books', shardId: 1, peerId: '4799098437505445', state: 'Active', local: true },
        { collection: 'books', shardId: 0, peerId: '3413489478446639', state: 'Active', local: false },
        { collection: 'books', shardId: 2, peerId: '8458440906768741', state: 'Active', local: false },
      ],
      transfers: 0,
    });
  });

  it('reads the disabled status, the version, collection names and peer metadata', () => {
    expect(toClusterStatus(parseLossless('{"status":"disabled"}'))).to.deep.equal({ status: 'disabled' });
    expect(toVersionInfo(parseLossless('{"title":"qdrant - vector search engine","version":"1.13.5","commit":"abc"}'))).to.deep.equal({ version: '1.13.5', commit: 'abc' });
    expect(toCollectionNames(parseLossless('{"collections":[{"name":"a"},{"name":"b"}]}'))).to.deep.equal(['a', 'b']);
    expect(toPeerMetadata(parseLossless('{"cluster":{"enabled":true,"peer_metadata":{"9834046559507417430":{"version":"1.16.0"}}}}'))).to.deep.equal({
      '9834046559507417430': { version: '1.16.0' },
    });
    expect(toPeerMetadata(parseLossless('{"cluster":{"enabled":true}}'))).to.equal(undefined);
    expect(toPeerMetadata(parseLossless('{"id":"x","cluster":null}'))).to.equal(undefined);
  });

  it('names the field of a body with the wrong shape', () => {
    const bad: Array<[() => unknown, RegExp]> = [
      [() => toClusterStatus(parseLossless('{"status":"maybe"}')), /result\.status is "maybe"/],
      [() => toClusterStatus(parseLossless('{"status":"enabled","peer_id":1.5,"peers":{},"raft_info":{}}')), /result\.peer_id is not an unsigned integer \(got number 1\.5\)/],
      [() => toClusterStatus(parseLossless('{"status":"enabled","peer_id":1,"peers":{"x":{"uri":"u"}},"raft_info":{}}')), /result\.peers key "x" is not a peer id/],
      [() => toCollectionCluster('c', parseLossless('{"peer_id":1,"local_shards":{}}')), /arrays/],
      [() => toVersionInfo(parseLossless('"hello"')), /body is not an object/],
    ];
    for (const [fn, re] of bad) expect(fn).to.throw(ShapeError, re);
  });
});
