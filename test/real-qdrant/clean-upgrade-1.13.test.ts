/**
 * A clean rolling upgrade of three real peers, 1.13.4 -> 1.13.5, as the guard runs it: `volume` archives every
 * volume first, the peers restart one at a time on their own storage, and nothing the guard reads afterwards
 * (answers, volumes, logs) raises anything. The guard must be quiet when nothing is wrong.
 */
import { expect } from 'chai';
import { runDiagnoseLogs } from '../../hook/commands/diagnose-logs.js';
import { runInspect } from '../../hook/commands/inspect.js';
import { runVolume } from '../../hook/commands/volume.js';
import { assessConvergence, type RecordedIdentity } from '../../hook/policy/convergence.js';
import { findingsToChecks, scanLogLines, splitLogText } from '../../hook/policy/log-loop.js';
import { RealQdrantCluster, requireQdrantVersions, stopCluster } from '../support/real-qdrant/index.js';
import { settle } from '../support/real-qdrant/observe.js';

describe('real Qdrant 1.13.4 -> 1.13.5, a clean rolling upgrade of three peers', function () {
  this.timeout(300_000);
  let c: RealQdrantCluster;
  const record: Record<string, RecordedIdentity> = {};

  before(async function () {
    requireQdrantVersions(this, ['1.13.4', '1.13.5']);
    c = new RealQdrantCluster({ size: 3, version: '1.13.4', portBase: 30400 });
  });
  after(async function () {
    await stopCluster(this, c);
  });

  it('inspect calls a never-used storage dir fresh, and the same dir initialized once the peer has started', async () => {
    const fresh = await runInspect({ storage: c.root });
    expect(fresh.details).to.include({ classification: 'fresh' });
    await c.start();
    for (const p of c.peers) {
      const r = await runInspect({ storage: p.storage });
      expect(r.details, p.name).to.include({ classification: 'initialized' });
      // A single-line file without a trailing newline, as Qdrant writes it.
      expect(p.readRaftState().includes('\n'), p.name).to.equal(false);
    }
    await c.createCollection('c1', { shards: 3, replicas: 2 });
    await c.upsertPoints('c1', 30);
  });

  it('pre-upgrade: every volume passes and is archived', async () => {
    for (const p of c.peers) {
      const v = await runVolume({ storage: p.storage, from: '1.13.4', to: '1.13.5', pod: p.name });
      expect(v.verdict, `${p.name}: ${v.summary}`).to.equal('pass');
      const d = v.details as { peerId: string; archive: { name: string } | null };
      expect(d.archive, p.name).to.not.equal(null);
      record[String(p.ordinal)] = { pod: p.name, peerId: d.peerId, version: '1.13.4', classification: 'initialized' };
    }
  });

  it('restarts qdrant-2, qdrant-1, qdrant-0 at 1.13.5 on their own storage, each ready and a member again', async () => {
    for (const i of [2, 1, 0]) {
      const p = c.peer(i);
      await p.restart({ version: '1.13.5' });
      await p.waitReady(60_000);
      await c.waitMembers(3, 60_000);
    }
  });

  it('convergence passes: same ids as recorded, one version, one leader, every replica Active', async () => {
    const conv = await settle(c, (observations) => assessConvergence({ targetVersion: '1.13.5', record, observations, expectedReplicas: 3 }));
    expect(conv.filter((x) => x.status === 'fail')).to.deep.equal([]);
    expect(conv.filter((x) => x.id === 'peer.identity').map((x) => x.status)).to.deep.equal(['pass', 'pass', 'pass']);
    for (const i of [0, 1, 2]) expect(await c.countPoints('c1', i)).to.equal(30);
  });

  it('the logs of every start raise nothing, though they hold "Replaced metadata ... 1.13.4 to ... 1.13.5"', async () => {
    // Each peer logs the line when it applies a restarted peer's metadata update, which may trail its readiness:
    // wait (bounded) for the first one, so the premise of this test is there before the logs are judged.
    const upgradeLine = /Replaced metadata of peer \d+ from .*patch: 4 .* to .*patch: 5/;
    for (let waited = 0; waited < 60_000 && !c.peers.some((p) => upgradeLine.test(p.logText())); waited += 500) {
      await new Promise((r) => setTimeout(r, 500));
    }
    let metadataLines = 0;
    for (const p of c.peers) {
      for (const file of p.logFiles) {
        const d = await runDiagnoseLogs({ log: file, pod: p.name });
        expect(d.verdict, `${file}: ${d.summary}`).to.equal('pass');
      }
      const lines = splitLogText(p.currentLog());
      metadataLines += splitLogText(p.logText()).filter((l) => upgradeLine.test(l)).length;
      const checks = findingsToChecks(scanLogLines(lines, { pod: p.name, recordedInitialized: true, recordedPeerId: record[String(p.ordinal)]!.peerId! }), p.name);
      expect(checks.filter((x) => x.status === 'fail'), p.name).to.deep.equal([]);
    }
    expect(metadataLines).to.be.greaterThan(0);
  });

  it('after the upgrade every volume passes the startup check without a warning', async () => {
    for (const p of c.peers) {
      const v = await runVolume({ storage: p.storage, checkOnly: true, pod: p.name });
      expect(v.checks.filter((x) => x.status !== 'pass'), p.name).to.deep.equal([]);
    }
  });
});
