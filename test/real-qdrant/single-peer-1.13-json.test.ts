/**
 * The seed's case on the real 1.13 server, a lone peer, logging JSON (QDRANT__LOGGER__FORMAT=json): it loses its
 * state on the upgrade to 1.13.5, comes back under a new id beside its old one, cannot commit, and after a stuck
 * minute loses it again; the replay then logs the self-replacing metadata line of qdrant/qdrant#6229.
 */
import { expect } from 'chai';
import { runCli } from '../../hook/cli.js';
import { runDiagnoseLogs } from '../../hook/commands/diagnose-logs.js';
import { runInspect } from '../../hook/commands/inspect.js';
import { runVolume } from '../../hook/commands/volume.js';
import { findingsToChecks, scanLogLines, splitLogText } from '../../hook/policy/log-loop.js';
import { RealQdrantCluster, requireQdrantVersions, stopCluster } from '../support/real-qdrant/index.js';
import { observeAll } from '../support/real-qdrant/observe.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The replay logs one line per minute the peer spent stuck, so it must stay stuck a little over a minute. */
const STUCK_MS = 70_000;

describe('real Qdrant 1.13, a lone peer with JSON logs: the seed\'s replay', function () {
  this.timeout(300_000);
  let c: RealQdrantCluster;
  let firstId: string;

  before(async function () {
    requireQdrantVersions(this, ['1.13.4', '1.13.5']);
    c = new RealQdrantCluster({ size: 1, version: '1.13.4', portBase: 30300, logFormat: 'json' });
    await c.start();
    await c.createCollection('c1', { shards: 2, replicas: 1 });
    await c.upsertPoints('c1', 10);
  });
  after(async function () {
    await stopCluster(this, c);
  });

  it('writes a state inspect reads as initialized under the id GET /cluster answers, with empty peer metadata', async () => {
    const r = await runInspect({ storage: c.peer(0).storage });
    const summary = (r.details as { summary: { thisPeerId: string; voters: string[]; peerVersions?: Record<string, string> } }).summary;
    const obs = await observeAll(c);
    expect(obs[0]!.cluster?.status === 'enabled' && obs[0]!.cluster.peerId).to.equal(summary.thisPeerId);
    expect(summary.voters).to.deep.equal([summary.thisPeerId]);
    expect(summary.peerVersions).to.deep.equal({});
    firstId = summary.thisPeerId;
  });

  it('logs JSON lines after an ASCII-art banner', () => {
    const lines = splitLogText(c.peer(0).currentLog());
    const firstJson = lines.findIndex((l) => l.startsWith('{'));
    expect(firstJson).to.be.greaterThan(0);
    const o = JSON.parse(lines[firstJson]!) as { fields: Record<string, unknown>; target: string };
    expect(o.fields).to.have.property('message').that.is.a('string');
    expect(o.fields).to.have.property('log.target');
    expect(o.target).to.be.a('string');
  });

  it('without its state, 1.13.5 answers /readyz 200 beside a phantom of its old id and cannot commit', async () => {
    const p = c.peer(0);
    await p.stop();
    p.deleteRaftState();
    await p.start({ version: '1.13.5' });
    await p.waitReady(30_000);
    await c.waitMembers(2, 30_000);
    const created = await p.request('PUT', '/collections/c2', { vectors: { size: 4, distance: 'Dot' } }, 30_000);
    // Two voters at one address, one of them a phantom: no quorum, so the proposal times out (Qdrant waits 10 s).
    expect(created.status, created.text).to.equal(500);
    expect(created.text).to.contain('Waiting for consensus operation commit failed');
    console.log(`    (create collection during the incident: HTTP ${created.status} after ${created.ms} ms)`);
    expect(await c.countPoints('c1')).to.equal(10);
    const start = await runVolume({ storage: p.storage, checkOnly: true, pod: 'qdrant-0' });
    expect(start.checks.find((x) => x.id === 'volume.phantom-voter')?.status).to.equal('warn');
  });

  it('the JSON log says the identity was lost, to the post-upgrade detector and to diagnose-logs', async () => {
    const log = c.peer(0).currentLog();
    const checks = findingsToChecks(scanLogLines(splitLogText(log), { pod: 'qdrant-0', recordedInitialized: true, recordedPeerId: firstId }), 'qdrant-0');
    expect(checks.find((x) => x.id === 'peer.identity-lost')?.status).to.equal('fail');
    const d = await runDiagnoseLogs({ log: c.peer(0).logFile, pod: 'qdrant-0' });
    expect(d.details).to.include({ signature: true, role: 'lost-state' });
    expect((d.details as { formats: { json: number; text: number } }).formats.json).to.be.greaterThan(10);
    expect((d.details as { formats: { json: number; text: number } }).formats.text).to.equal(0);
  });

  it('stuck a minute and started again without its state, it replays the self-replacing metadata: the loop fails', async () => {
    const p = c.peer(0);
    await sleep(STUCK_MS);
    await p.stop();
    p.deleteRaftState();
    await p.start();
    await p.waitReady(30_000);
    const line = await p.waitForLog(/Replaced metadata of peer \d+ from PeerMetadata \{ version: Version \{ major: 1, minor: 13, patch: 5 \} \} to PeerMetadata \{ version: Version \{ major: 1, minor: 13, patch: 5 \} \}/, 30_000);
    expect(line.startsWith('{')).to.equal(true);
    const checks = findingsToChecks(scanLogLines(splitLogText(p.currentLog()), { pod: 'qdrant-0', recordedInitialized: false }), 'qdrant-0');
    expect(checks.find((x) => x.id === 'peer.log-loop')?.status).to.equal('fail');
    let out = '';
    const code = await runCli(['diagnose-logs', p.logFile, '--pod', 'qdrant-0', '--output', 'json'], { env: {}, stdout: (t) => void (out += t), stderr: () => undefined });
    expect(code).to.equal(1);
    const kinds = (JSON.parse(out).details.findings as { kind: string }[]).map((f) => f.kind);
    expect(kinds).to.include.members(['new-state-on-used-volume', 'metadata-loop']);
  });
});
