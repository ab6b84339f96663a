import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GuardError } from '../../../hook/errors.js';
import { ALL_CHECK_IDS, CHECK_CATALOGUE, CHECK_IDS, isCheckId, runbookOf, type CheckId } from '../../../hook/policy/check-ids.js';
import { assessClusterHealth } from '../../../hook/policy/cluster-health.js';
import { assessConvergence } from '../../../hook/policy/convergence.js';
import { findingsToChecks, scanLogLines } from '../../../hook/policy/log-loop.js';
import { assessRollout } from '../../../hook/policy/rollout.js';
import { check, failureHeadline, renderText } from '../../../hook/report.js';
import { withCheckTable } from '../../../scripts/check-table.js';
import { edit, healthyCluster, unreachable } from './observations.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

describe('policy/check-ids: one catalogue of every id a report can carry', () => {
  it('holds lower-case dotted ids, each with a runbook section and a description', () => {
    expect(ALL_CHECK_IDS.length).to.be.greaterThan(30);
    for (const id of ALL_CHECK_IDS) {
      expect(id).to.match(/^[a-z]+(-[a-z]+)*\.[a-z]+(-[a-z]+)*$/);
      expect(runbookOf(id)).to.match(/^docs\/runbooks\.md#[a-z0-9-]+$/);
      expect(CHECK_CATALOGUE[id].about.length, id).to.be.greaterThan(10);
    }
    expect(ALL_CHECK_IDS).to.include.members([
      'version.policy', 'volume.state', 'volume.archive', 'volume.evidence', 'volume.note', 'volume.peers', 'volume.snapshot',
      'archive.entry', 'guard.event', 'guard.record', 'restore.archive', 'restore.not-running', 'restore.identity',
      'restore.space', 'restore.applied', 'cluster.membership', 'peer.identity', 'rollout.complete',
    ]);
  });

  it('check() refuses an id outside the catalogue at run time (an internal error, "a bug")', () => {
    expect(() => check('volume.sate' as CheckId, 'fail', 's', 'o', 'e')).to.throw(GuardError, /not in the catalogue/);
    let err: unknown;
    try {
      check('nope' as CheckId, 'pass', 's', 'o', 'e');
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(GuardError);
    expect((err as GuardError).kind).to.equal('internal');
    expect(isCheckId('volume.state')).to.equal(true);
    expect(isCheckId('toString')).to.equal(false);
  });

  it('every id written in hook/ (check(...) literals, *_CHECK_ID constants, CHECK_IDS) is in the catalogue', () => {
    const written = new Map<string, string>();
    for (const file of tsFiles(path.join(repoRoot, 'hook'))) {
      const text = fs.readFileSync(file, 'utf8');
      const rel = path.relative(repoRoot, file);
      for (const m of text.matchAll(/\bcheck\(\s*'([^']+)'/g)) written.set(m[1]!, rel);
      for (const m of text.matchAll(/_CHECK_ID\s*=\s*'([^']+)'/g)) written.set(m[1]!, rel);
    }
    for (const id of Object.values(CHECK_IDS)) written.set(id, 'CHECK_IDS');
    expect(written.size).to.be.greaterThan(15);
    const outside = [...written].filter(([id]) => !isCheckId(id)).map(([id, file]) => `${id} (${file})`);
    expect(outside, 'ids used in hook/ but missing from hook/policy/check-ids.ts').to.deep.equal([]);
  });

  it('covers every id the cluster checks emit', () => {
    const broken = edit(unreachable(healthyCluster({ version: '1.16.0', peerMetadata: true }), 2), 0, (o) => (o.ready = false));
    const emitted = [
      ...assessClusterHealth(broken, { expectedPeers: 3 }),
      ...assessConvergence({ targetVersion: '1.16.0', record: {}, observations: broken, expectedReplicas: 3 }),
      ...findingsToChecks(scanLogLines(['WARN x: Replaced address of peer 1 from a to b'], { pod: 'qdrant-0', recordedInitialized: true }), 'qdrant-0'),
      assessRollout(
        { statefulset: 'q', replicas: 1, generation: 1, observedGeneration: 1, updateRevision: 'b', currentRevision: 'a', updatedReplicas: 0, readyReplicas: 0, partition: 0, pods: [] },
        { deadlineReached: true },
      ).stuck!,
    ].map((c) => c.id);
    expect(emitted.length).to.be.greaterThan(10);
    for (const id of new Set(emitted)) expect(ALL_CHECK_IDS as readonly string[]).to.include(id);
    expect(emitted).to.include(CHECK_IDS.peerAddressChange);
  });

  it("the README's check table is the one generated from the catalogue (npx tsx scripts/check-table.ts)", () => {
    const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    expect(readme, 'README.md check table is stale: run npx tsx scripts/check-table.ts').to.equal(withCheckTable(readme));
    for (const id of ALL_CHECK_IDS) expect(readme).to.contain(`| \`${id}\` |`);
  });

  it('the text view names the runbook of every failure and warning whose remedy names none', () => {
    const text = renderText({
      schemaVersion: 1,
      command: 'pre-upgrade',
      verdict: 'refuse',
      summary: 'one line',
      checks: [
        check('cluster.leader', 'fail', 'statefulset/qdrant', 'two leaders', 'one leader', 'Wait for the election to settle.'),
        check('volume.state', 'fail', 'pvc/x', 'missing', 'present', 'Restore it (docs/runbooks.md#restore-an-archive).'),
        check('peer.ready', 'pass', 'statefulset/qdrant', '3 peer(s) ready', 'ready'),
      ],
    });
    expect(text).to.contain('         runbook:  docs/runbooks.md#degraded-cluster\n');
    expect(text.match(/runbook: /g)).to.have.length(1);
  });

  it('a failure headline is one line: which checks failed where, the start of what was seen, the runbook of the first', () => {
    const long = 'raft_state.json is missing while collections_meta_wal/ holds 2 segment(s) (2.5 MiB) and a long story follows';
    const a = check('volume.state', 'fail', 'pvc/qdrant-storage-qdrant-1 (qdrant-1)', long, 'e', 'many steps');
    const b = check('version.policy', 'fail', 'statefulset/qdrant', '1.11.3 -> 1.13.4', 'e', 'r');
    const line = failureHeadline([a, b]);
    expect(line).to.equal(
      'volume.state on pvc/qdrant-storage-qdrant-1 (qdrant-1): raft_state.json is missing while collections_meta_wal/ holds 2 segment(s) (2.5 MiB) and a...; ' +
        'version.policy on statefulset/qdrant: 1.11.3 -> 1.13.4; see docs/runbooks.md#lost-or-corrupt-raft-state',
    );
    expect(line).not.to.contain('\n');
    expect(line).not.to.contain('long story');
    expect(line).not.to.contain('many steps');
    expect(failureHeadline([a, a, a, a, a])).to.contain('and 2 more');
  });
});
