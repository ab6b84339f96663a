/**
 * The chart's default Qdrant, 1.19.0 (its appVersion, the official chart 1.19.0's default), through the guard's
 * version-dependent paths: the version policy across 1.13 -> 1.19 (what a release that never pinned its tag meets
 * when it moves to this chart), and pre-upgrade, post-upgrade and verify on 1.19 peers, where telemetry carries
 * peer metadata (from 1.16 on) and every entry must name the target. Kubernetes API double and Qdrant emulator
 * (test doubles, real HTTP).
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { runPreUpgrade } from '../../hook/commands/pre-upgrade.js';
import { runPostUpgrade } from '../../hook/commands/post-upgrade.js';
import { runVerify } from '../../hook/commands/verify.js';
import { decideVersionChange } from '../../hook/policy/version.js';
import { postUpgradeOptions, preUpgradeOptions, startScenario, type Scenario } from '../support/guard-scenario.js';

const chart = parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../chart/Chart.yaml'), 'utf8')) as { appVersion: string };
const DEFAULT = chart.appVersion.replace(/^v/, '');

describe('Qdrant 1.19, the chart default, through the guard', function () {
  this.timeout(90_000);

  it('the chart deploys 1.19.0 unless told otherwise', () => {
    expect(DEFAULT).to.equal('1.19.0');
  });

  describe('version policy across 1.13 -> 1.19', () => {
    const rows = [
      { from: '1.13.5', to: DEFAULT, kind: 'skipped-minor', status: 'fail', path: '1.13.5 -> 1.14.x -> 1.15.x -> 1.16.x -> 1.17.x -> 1.18.x -> 1.19.0' },
      { from: '1.16.3', to: DEFAULT, kind: 'skipped-minor', status: 'fail', path: '1.16.3 -> 1.17.x -> 1.18.x -> 1.19.0' },
      { from: '1.18.2', to: DEFAULT, kind: 'minor', status: 'pass' },
      { from: DEFAULT, to: '1.19.1', kind: 'patch', status: 'pass' },
      { from: '1.19.1', to: DEFAULT, kind: 'downgrade', status: 'fail' },
    ] as const;
    for (const r of rows) {
      it(`${r.from} -> ${r.to}: ${r.kind}, ${r.status}`, () => {
        const d = decideVersionChange({ from: r.from, to: r.to, allowVersionSkip: false, allowDowngrade: false });
        expect(d.kind).to.equal(r.kind);
        expect(d.check.status).to.equal(r.status);
        if ('path' in r) expect(d.check.remedy).to.contain(r.path);
      });
    }
  });

  describe('hooks on 1.19 peers', () => {
    let s: Scenario;
    afterEach(async () => s && (await s.close()));

    it('pre-upgrade refuses a release on 1.13.5 that would be taken to the 1.19.0 default, with the path', async () => {
      s = await startScenario({ peers: 3, version: '1.13.5' });
      const report = await runPreUpgrade(preUpgradeOptions({ targetVersion: DEFAULT }), s.deps);
      expect(report.verdict).to.equal('refuse');
      const policy = report.checks.find((c) => c.id === 'version.policy')!;
      expect(policy.status).to.equal('fail');
      expect(policy.remedy).to.contain('1.13.5 -> 1.14.x');
    });

    it('a 1.19.0 -> 1.19.1 upgrade passes pre-upgrade, and post-upgrade and verify check every peer_metadata entry', async () => {
      s = await startScenario({ peers: 3, version: DEFAULT });
      const pre = await runPreUpgrade(preUpgradeOptions({ targetVersion: '1.19.1' }), s.deps);
      expect(pre.verdict, JSON.stringify(pre.checks.filter((c) => c.status === 'fail'))).to.equal('pass');
      s.applyUpgrade('1.19.1');
      const [post] = await Promise.all([runPostUpgrade(postUpgradeOptions({ targetVersion: '1.19.1' }), s.deps), s.rollOutAll()]);
      expect(post.verdict, JSON.stringify(post.checks.filter((c) => c.status === 'fail'))).to.equal('pass');
      // From 1.16 on the metadata path runs (it is a skip before): a pass that names the target.
      const metadata = post.checks.filter((c) => c.id === 'peer.metadata');
      expect(metadata.length).to.be.greaterThan(0);
      for (const c of metadata) {
        expect(c.status).to.equal('pass');
        expect(c.expected).to.contain('1.19.1');
      }
      expect(post.checks.filter((c) => c.id === 'peer.identity' && c.status === 'pass')).to.have.length(3);
      const verify = await runVerify({ release: 'qdrant', statefulset: 'qdrant', targetVersion: '1.19.1' }, s.deps);
      expect(verify.verdict).to.equal('pass');
    });
  });
});
