/**
 * Pieces of the Qdrant emulator (a test double) checked against the fixtures and docs/qdrant-facts.md:
 * raft_state.json round trips byte for byte (docs/qdrant-facts.md#raft-state-file), atomic writes, versions, log formats (docs/qdrant-facts.md#log-lines), faults,
 * config layering, name resolution, the WAL framing, and the simulated clock and network.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { mintPeerId, parseRaftState, serializeRaftState, atomicWriteFile } from '../support/qdrant-emulator/raft-state.js';
import { fakeCommitSha, hasStaleSelfMetadataBug, normaliseVersion, peerMetadataDebug, rustVersionDebug } from '../support/qdrant-emulator/version.js';
import { EmulatorLog } from '../support/qdrant-emulator/log.js';
import { parseFault } from '../support/qdrant-emulator/faults.js';
import { loadConfigFiles, parseYamlSubset, setting } from '../support/qdrant-emulator/config.js';
import { fileResolver, normaliseUri, resolveUrl, mapResolver } from '../support/qdrant-emulator/resolve.js';
import { Wal } from '../support/qdrant-emulator/wal.js';
import { parseDefaultCollection, parseTiming } from '../support/qdrant-emulator/main-args.js';
import { SimClock } from '../support/qdrant-emulator/clock.js';
import { SimNetwork } from '../support/qdrant-emulator/p2p.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixtureDir = path.resolve(repoRoot, 'test/fixtures/raft-state');

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'qdrant-emulator-unit-'));
}

describe('Qdrant emulator pieces (test double)', () => {
  describe('raft_state.json (docs/qdrant-facts.md#raft-state-file)', () => {
    const files = ['public', 'constructed'].flatMap((d) =>
      fs
        .readdirSync(path.join(fixtureDir, d))
        .filter((f) => f.endsWith('.json') && !f.includes('response'))
        .map((f) => path.join(d, f)),
    );

    it('finds the fixture files', () => {
      expect(files.length).to.be.greaterThan(10);
    });

    for (const rel of files) {
      it(`re-serialises ${rel} exactly as Qdrant wrote it`, () => {
        const text = fs.readFileSync(path.join(fixtureDir, rel), 'utf8').trim();
        const compact = JSON.stringify(JSON.parse(text)) === text ? text : undefined;
        const state = parseRaftState(text);
        // The version decides the optional keys; pick one the file's keys imply.
        const version = text.includes('first_voter') ? '1.13.5' : text.includes('peer_metadata_by_id') ? '1.8.0' : '1.7.0';
        const out = serializeRaftState(state, version);
        if (compact) {
          expect(out).to.equal(compact);
        } else {
          // The pretty-printed PR #5147 file (hand-formatted): same content once whitespace is gone.
          expect(out).to.equal(text.replace(/\s+/g, ''));
        }
      });
    }

    it('keeps ids above 2^53 and first_voter = u64::MAX exact', () => {
      const text = fs.readFileSync(path.join(fixtureDir, 'constructed/legacy-bigint_created-v1.1_running-v1.13.4_cluster-2peer.json'), 'utf8');
      const s = parseRaftState(text);
      expect(s.thisPeerId).to.equal('11532566549086892528');
      expect(s.firstVoter).to.equal('18446744073709551615');
      expect([...s.peerAddressById.keys()]).to.deep.equal(['11532566549086892528', '9834046559507417430']);
      expect(serializeRaftState(s)).to.contain('"vote":11532566549086892528');
    });

    it('writes first_voter only from 1.12.2 and peer_metadata_by_id only from 1.8.0', () => {
      const s = parseRaftState(fs.readFileSync(path.join(fixtureDir, 'constructed/v1.13.4_cluster-1peer_qdrant-0.json'), 'utf8'));
      expect(serializeRaftState(s, '1.12.1')).to.not.contain('first_voter');
      expect(serializeRaftState(s, '1.12.2')).to.contain('"first_voter":1439658109858024');
      expect(serializeRaftState(s, '1.7.9')).to.not.contain('peer_metadata_by_id');
    });

    it('names the failing key of an invalid file', () => {
      expect(() => parseRaftState('{"state":{}}')).to.throw(/state\.hard_state is not an object/);
      expect(() => parseRaftState('not json')).to.throw(/not JSON/);
      const ok = fs.readFileSync(path.join(fixtureDir, 'constructed/v1.13.4_cluster-1peer_qdrant-0.json'), 'utf8');
      expect(() => parseRaftState(ok.replace('"this_peer_id":1439658109858024', '"this_peer_id":"1439658109858024"'))).to.throw(/this_peer_id is not a u64/);
      expect(() => parseRaftState(ok.replace('"term":4', '"term":1.5'))).to.throw(/hard_state\.term is not a u64/);
      expect(() => parseRaftState(ok.replace('"auto_leave":false', '"auto_leave":0'))).to.throw(/auto_leave/);
    });

    it('mints ids the 1.2+ way: 1 <= id <= 2^53', () => {
      for (let i = 0; i < 200; i++) {
        const id = BigInt(mintPeerId());
        expect(id >= 1n && id <= 2n ** 53n).to.equal(true);
      }
    });

    it('replaces a file atomically through a .atomicwrite dir that it removes', () => {
      const dir = tmp();
      try {
        const target = path.join(dir, 'raft_state.json');
        fs.writeFileSync(target, 'old');
        atomicWriteFile(target, 'new');
        expect(fs.readFileSync(target, 'utf8')).to.equal('new');
        expect(fs.readdirSync(dir)).to.deep.equal(['raft_state.json']);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('versions', () => {
    const table: Array<[string, string]> = [
      ['1.13.5', '1.13.5'],
      ['v1.13.5', '1.13.5'],
      ['1.13.5-unprivileged', '1.13.5'],
      ['v1.16.1-gpu-nvidia-unprivileged', '1.16.1'],
      ['1.11.6-dev', '1.11.6-dev'],
    ];
    for (const [input, want] of table) {
      it(`normalises ${input} to ${want}`, () => expect(normaliseVersion(input)).to.equal(want));
    }
    it('refuses a tag that is not a version', () => {
      expect(() => normaliseVersion('latest')).to.throw(/not a Qdrant version: "latest"/);
    });
    it("prints versions as Rust's semver Debug does inside the #6229 log line (docs/incident-6229.md)", () => {
      expect(peerMetadataDebug('1.13.4')).to.equal('PeerMetadata { version: Version { major: 1, minor: 13, patch: 4 } }');
      expect(rustVersionDebug('1.11.6-dev')).to.equal('Version { major: 1, minor: 11, patch: 6, pre: Prerelease("dev") }');
    });
    it('has the single-peer stale metadata bug on 1.13.3 to 1.14.x only (docs/qdrant-facts.md#single-peer-stale-metadata)', () => {
      const rows: Array<[string, boolean]> = [
        ['1.13.2', false],
        ['1.13.3', true],
        ['1.14.9', true],
        ['1.15.0', false],
      ];
      expect(rows.map(([v]) => hasStaleSelfMetadataBug(v))).to.deep.equal(rows.map(([, b]) => b));
    });
    it('gives each version a stable 40-hex build sha', () => {
      expect(fakeCommitSha('1.13.5')).to.match(/^[0-9a-f]{40}$/).and.equal(fakeCommitSha('1.13.5'));
      expect(fakeCommitSha('1.13.5')).to.not.equal(fakeCommitSha('1.13.4'));
    });
  });

  describe('log lines (docs/qdrant-facts.md#log-lines)', () => {
    it('writes tracing text lines: timestamp with microseconds, two spaces before INFO, target, message', () => {
      const log = new EmulatorLog();
      log.info('storage::content_manager::consensus::persistent', 'Loading raft state from /qdrant/storage/raft_state.json');
      log.warn('storage::content_manager::consensus::persistent', 'Replaced address of peer 1 from a to b');
      const [a, b] = log.records().map((r) => r.line);
      expect(a).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z  INFO storage::content_manager::consensus::persistent: Loading raft state from \/qdrant\/storage\/raft_state\.json$/);
      expect(b).to.match(/^\S+Z  WARN storage::/);
    });
    it('writes JSON lines with timestamp, level, fields.message and target', () => {
      const log = new EmulatorLog({ format: 'json' });
      log.info('qdrant', 'Distributed mode disabled');
      expect(Object.keys(JSON.parse(log.text()))).to.deep.equal(['timestamp', 'level', 'fields', 'target']);
      expect(JSON.parse(log.text()).fields).to.deep.equal({ message: 'Distributed mode disabled' });
    });
    it('colours text lines with ANSI codes when asked, and keeps the plain line in memory', () => {
      const dir = tmp();
      try {
        const file = path.join(dir, 'q.log');
        const log = new EmulatorLog({ color: true, file });
        log.info('qdrant', 'hello');
        expect(fs.readFileSync(file, 'utf8')).to.match(/\x1b\[32m INFO\x1b\[0m .*hello\n$/);
        expect(log.records()[0]!.line).to.not.contain('\x1b');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
    it('keeps timestamps strictly increasing', () => {
      const log = new EmulatorLog();
      for (let i = 0; i < 50; i++) log.info('t', String(i));
      const ts = log.records().map((r) => r.timestamp);
      expect([...ts].sort()).to.deep.equal(ts);
      expect(new Set(ts).size).to.equal(ts.length);
    });
  });

  describe('QDRANT_EMULATOR_FAULT', () => {
    const rows: Array<[string | undefined, object]> = [
      [undefined, { mode: 'healthy' }],
      ['lag', { mode: 'lagging' }],
      ['lag:5000', { mode: 'lagging', durationMs: 5000 }],
      ['shards-dead:Partial', { mode: 'shards-dead', shardState: 'Partial' }],
      ['consensus-stopped:disk full', { mode: 'consensus-stopped', err: 'disk full' }],
      ['metadata-loop', { mode: 'metadata-loop' }],
      ['new-peer-id', { mode: 'new-peer-id' }],
      ['not-ready', { mode: 'not-ready' }],
      ['unreachable', { mode: 'unreachable' }],
    ];
    for (const [text, want] of rows) {
      it(`parses ${JSON.stringify(text)}`, () => expect(parseFault(text)).to.deep.equal(want));
    }
    it('refuses unknown modes and bad arguments', () => {
      expect(() => parseFault('boom')).to.throw(/unknown QDRANT_EMULATOR_FAULT "boom"/);
      expect(() => parseFault('lag:soon')).to.throw(/milliseconds/);
      expect(() => parseFault('shards-dead:Gone')).to.throw(/Dead or Partial/);
    });
  });

  describe('settings and arguments', () => {
    it('reads the nested mappings of a Qdrant config file, comments and quotes included', () => {
      const tree = parseYamlSubset('cluster:\n  enabled: true # on\n  p2p:\n    port: 6335\nservice:\n  api_key: "a#b"\n  list:\n    - x\nstorage:\n  storage_path: /qdrant/storage\n');
      expect(tree).to.deep.equal({ cluster: { enabled: 'true', p2p: { port: '6335' } }, service: { api_key: 'a#b', list: {} }, storage: { storage_path: '/qdrant/storage' } });
    });
    it('layers config.yaml, $RUN_MODE.yaml and local.yaml, and lets QDRANT__ env win', () => {
      const dir = tmp();
      try {
        fs.mkdirSync(path.join(dir, 'config'));
        fs.writeFileSync(path.join(dir, 'config', 'config.yaml'), 'cluster:\n  enabled: false\nservice:\n  http_port: 6333\n');
        fs.writeFileSync(path.join(dir, 'config', 'production.yaml'), 'cluster:\n  enabled: true\n');
        const { tree, files } = loadConfigFiles(dir, {});
        expect(files.map((f) => path.basename(f))).to.deep.equal(['config.yaml', 'production.yaml']);
        expect(setting(tree, {}, 'cluster.enabled')).to.equal('true');
        expect(setting(tree, { QDRANT__SERVICE__HTTP_PORT: '7000' }, 'service.http_port')).to.equal('7000');
        expect(setting(tree, { QDRANT__CLUSTER__P2P__PORT: '7001' }, 'cluster.p2p.port')).to.equal('7001');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
    it('parses the default collection and timing variables', () => {
      expect(parseDefaultCollection(undefined)).to.deep.equal({ name: 'demo', shardNumber: 1, replicationFactor: 'all' });
      expect(parseDefaultCollection('books:2:3')).to.deep.equal({ name: 'books', shardNumber: 2, replicationFactor: 3 });
      expect(parseDefaultCollection('none')).to.equal(null);
      expect(parseTiming('pollMs=100,loopCap=5')).to.include({ pollMs: 100, loopCap: 5, electionTimeoutMs: 1000 });
      expect(() => parseTiming('speed=9')).to.throw(/bad QDRANT_EMULATOR_TIMING entry speed=9/);
    });
  });

  describe('peer URIs and names', () => {
    it('stores URIs with the trailing slash Qdrant adds', () => {
      expect(normaliseUri('http://qdrant-0.qdrant-headless:6335')).to.equal('http://qdrant-0.qdrant-headless:6335/');
    });
    it('resolves headless-service names, also when written as FQDN', () => {
      const r = mapResolver({ 'qdrant-1.qdrant-headless': '127.2.0.2' });
      expect(resolveUrl(r, 'http://qdrant-1.qdrant-headless:6335/')).to.equal('http://127.2.0.2:6335');
      expect(resolveUrl(r, 'http://qdrant-1.qdrant-headless.ns.svc.cluster.local:6335')).to.equal('http://127.2.0.2:6335');
      expect(resolveUrl(r, 'http://127.9.9.9:6335')).to.equal('http://127.9.9.9:6335');
    });
    it('re-reads the resolve file when the kubelet stand-in rewrites it, and survives a torn write', () => {
      const dir = tmp();
      try {
        const file = path.join(dir, 'hosts.json');
        fs.writeFileSync(file, JSON.stringify({ 'qdrant-0.qdrant-headless': '127.2.0.1' }));
        const r = fileResolver(file);
        expect(r('qdrant-0.qdrant-headless')).to.equal('127.2.0.1');
        fs.writeFileSync(file, JSON.stringify({ 'qdrant-0.qdrant-headless': '127.2.0.77', other: 'x' }));
        expect(r('qdrant-0.qdrant-headless')).to.equal('127.2.0.77');
        fs.writeFileSync(file, '{"qdrant-0.qdr');
        expect(r('qdrant-0.qdrant-headless')).to.equal('127.2.0.77');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('the consensus WAL segment (collections_meta_wal/open-1)', () => {
    it('appends, reads back, rewrites, and stops at a torn tail', () => {
      const dir = tmp();
      try {
        const wal = new Wal(dir);
        wal.append([
          { index: 1, term: 1, op: { type: 'AddPeer', peerId: '11532566549086892528', uri: 'http://a:6335/' } },
          { index: 2, term: 1, op: { type: 'UpdatePeerMetadata', peerId: '11532566549086892528', version: '1.13.4' } },
        ]);
        expect(wal.read().map((e) => e.index)).to.deep.equal([1, 2]);
        const size = fs.statSync(wal.file).size;
        expect(size % 8).to.equal(0);
        fs.appendFileSync(wal.file, Buffer.from([200, 0, 0, 0, 0, 0, 0, 0, 1, 2]));
        expect(wal.read().map((e) => e.index)).to.deep.equal([1, 2]);
        wal.rewrite(wal.read().slice(0, 1));
        expect(wal.read()).to.have.length(1);
        expect((wal.read()[0]!.op as { peerId: string }).peerId).to.equal('11532566549086892528');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('the simulated clock (sim.ts)', () => {
    it('runs timers in due order, ties in the order they were set, and only when stepped', async () => {
      const clock = new SimClock({ start: 1000 });
      const seen: string[] = [];
      clock.after(30, () => seen.push('c@' + clock.now()));
      clock.after(10, () => seen.push('a@' + clock.now()));
      clock.after(10, () => seen.push('b@' + clock.now()));
      const cancel = clock.after(20, () => seen.push('cancelled'));
      cancel();
      await new Promise((r) => setTimeout(r, 40));
      expect(seen, 'real time does not move it').to.deep.equal([]);
      await clock.run(25);
      expect(seen).to.deep.equal(['a@1010', 'b@1010']);
      expect(clock.now()).to.equal(1025);
      await clock.run(100);
      expect(seen).to.deep.equal(['a@1010', 'b@1010', 'c@1030']);
      expect(clock.now()).to.equal(1125);
    });

    it('lets promise chains started by a timer settle before the next timer', async () => {
      const clock = new SimClock();
      const seen: string[] = [];
      clock.after(5, () => {
        void (async () => {
          await clock.sleep(0);
          await Promise.resolve();
          seen.push('chain');
        })();
      });
      clock.after(6, () => seen.push('next'));
      await clock.run(10);
      expect(seen).to.deep.equal(['chain', 'next']);
    });

    it('bounds until() in virtual time and names what it waited for', async () => {
      const clock = new SimClock();
      const tick = () => clock.after(100, tick);
      tick();
      let err: Error | undefined;
      await clock.until('the moon', () => 'not yet', { maxMs: 1000 }).catch((e: Error) => (err = e));
      expect(err?.message).to.match(/^simulated 1000 ms without the moon: not yet/);
      expect(clock.now()).to.be.within(1000 + Date.UTC(2026, 0, 1) - 100, 1000 + Date.UTC(2026, 0, 1));
    });

    it('repeats its jitter from the seed', () => {
      const a = new SimClock({ seed: 9 });
      const b = new SimClock({ seed: 9 });
      const c = new SimClock({ seed: 10 });
      const draw = (k: SimClock) => Array.from({ length: 5 }, () => k.random());
      const first = draw(a);
      expect(draw(b)).to.deep.equal(first);
      expect(draw(c)).to.not.deep.equal(first);
      for (const x of first) expect(x).to.be.within(0, 1);
    });

    it('network: absent peers refuse, slow answers time out on the simulated clock, bodies are copied', async () => {
      const clock = new SimClock();
      const net = new SimNetwork(clock);
      const signal = new AbortController().signal;
      expect(await net.request({ base: 'http://127.2.0.1:6335', route: '/p2p/status', timeoutMs: 100, signal })).to.equal(undefined);
      const sent = { n: 1 };
      let received: Record<string, unknown> | undefined;
      net.register('127.2.0.1', 6335, async (_m, _p, body) => {
        received = body;
        return { status: 200, body: { echo: body } };
      });
      const answer = await net.request<{ echo: { n: number } }>({ base: 'http://127.2.0.1:6335', route: '/p2p/vote', body: sent, timeoutMs: 100, signal });
      expect(answer).to.deep.equal({ echo: { n: 1 } });
      expect(received).to.not.equal(sent);
      net.register('127.2.0.2', 6335, () => clock.sleep(500).then(() => ({ status: 200, body: 'late' })));
      const slow = net.request({ base: 'http://127.2.0.2:6335', route: '/p2p/append', body: {}, timeoutMs: 100, signal });
      await clock.run(150);
      expect(await slow).to.equal(undefined);
      net.register('127.2.0.3', 6335, async () => ({ status: 503, body: { error: 'not running' } }));
      expect(await net.request({ base: 'http://127.2.0.3:6335', route: '/p2p/append', body: {}, timeoutMs: 100, signal })).to.equal(undefined);
    });
  });
});
