import { expect } from 'chai';
import { GuardError } from '../../../hook/errors.js';
import { decideVersionChange, parseVersion, upgradePath, type VersionChangeKind } from '../../../hook/policy/version.js';
import type { CheckStatus } from '../../../hook/report.js';

describe('version policy (docs/qdrant-facts.md#upgrade-rules)', () => {
  const rows: Array<{ name: string; from: string; to: string; skip?: boolean; down?: boolean; kind: VersionChangeKind; status: CheckStatus; remedyHas?: string }> = [
    { name: 'same version passes', from: '1.13.4', to: '1.13.4', kind: 'none', status: 'pass' },
    { name: 'a patch upgrade passes (the #6229 upgrade itself)', from: '1.13.4', to: '1.13.5', kind: 'patch', status: 'pass' },
    { name: 'several patches at once pass', from: '1.13.0', to: '1.13.6', kind: 'patch', status: 'pass' },
    { name: 'one minor step passes', from: '1.15.3', to: '1.16.0', kind: 'minor', status: 'pass' },
    { name: 'one minor step to a later patch passes', from: '1.12.6', to: '1.13.4', kind: 'minor', status: 'pass' },
    { name: 'a skipped minor is refused with the path to take', from: '1.11.3', to: '1.13.4', kind: 'skipped-minor', status: 'fail', remedyHas: '1.11.3 -> 1.12.x -> 1.13.4' },
    { name: 'two skipped minors list both intermediate minors', from: '1.10.0', to: '1.13.0', kind: 'skipped-minor', status: 'fail', remedyHas: '1.10.0 -> 1.11.x -> 1.12.x -> 1.13.0' },
    { name: 'a skipped minor passes with a warning when allowVersionSkip', from: '1.11.3', to: '1.13.4', skip: true, kind: 'skipped-minor', status: 'warn' },
    { name: 'a major change is refused', from: '1.17.0', to: '2.0.0', kind: 'major', status: 'fail', remedyHas: 'allowVersionSkip' },
    { name: 'a major change passes with a warning when allowVersionSkip', from: '1.17.0', to: '2.0.0', skip: true, kind: 'major', status: 'warn' },
    { name: 'a patch downgrade is refused', from: '1.13.5', to: '1.13.4', kind: 'downgrade', status: 'fail', remedyHas: 'no downgrade path' },
    { name: 'a minor downgrade is refused even with allowVersionSkip', from: '1.14.0', to: '1.13.4', skip: true, kind: 'downgrade', status: 'fail' },
    { name: 'a downgrade passes with a warning only when allowDowngrade', from: '1.14.0', to: '1.13.4', down: true, kind: 'downgrade', status: 'warn' },
    { name: 'v-prefixed image tags are versions', from: 'v1.13.4', to: 'v1.13.5', kind: 'patch', status: 'pass' },
    { name: 'a dev pre-release to its release is a patch-level change', from: '1.11.6-dev', to: '1.11.6', kind: 'patch', status: 'pass' },
    { name: 'an image variant label (-unprivileged) of the same release is not a downgrade', from: '1.13.4', to: 'v1.13.4-unprivileged', kind: 'patch', status: 'pass' },
    { name: 'a pre-release of the next minor counts as that minor', from: '1.13.4', to: '1.14.0-rc.1', kind: 'minor', status: 'pass' },
    { name: 'build metadata is ignored', from: '1.13.4+build.1', to: '1.13.4', kind: 'none', status: 'pass' },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const d = decideVersionChange({ from: r.from, to: r.to, allowVersionSkip: r.skip ?? false, allowDowngrade: r.down ?? false });
      expect(d.kind).to.equal(r.kind);
      expect(d.check.id).to.equal('version.policy');
      expect(d.check.status).to.equal(r.status);
      if (r.status === 'pass') expect(d.check.remedy).to.equal('');
      else expect(d.check.remedy).to.not.equal('');
      if (r.remedyHas) expect(d.check.remedy).to.contain(r.remedyHas);
    });
  }

  it('returns the whole decision for a skipped minor, path included', () => {
    const d = decideVersionChange({ from: 'v1.11.3', to: '1.13.4', subject: 'statefulset/qdrant' });
    expect(d).to.deep.equal({
      kind: 'skipped-minor',
      from: '1.11.3',
      to: '1.13.4',
      path: ['1.11.3', '1.12.x', '1.13.4'],
      check: {
        id: 'version.policy',
        status: 'fail',
        subject: 'statefulset/qdrant',
        observed: '1.11.3 -> 1.13.4 (skipped-minor): skips 1 minor version(s)',
        expected: 'at most one minor step (1.11 -> 1.12.x)',
        remedy:
          'Upgrade one minor at a time, each to its latest patch: 1.11.3 -> 1.12.x -> 1.13.4 (docs/runbooks.md#version-change-refused, https://qdrant.tech/documentation/upgrades/). ' +
          'To go ahead anyway, set upgradeGuard.preUpgrade.allowVersionSkip=true (--allow-version-skip).',
      },
    });
  });

  for (const bad of ['1.13', 'latest', '', 'v', 'vv1.13.4', '1.13.4.1', 'dev-1.13.4', '=1.13.4']) {
    it(`treats ${JSON.stringify(bad)} as a usage error (exit 2), not a verdict`, () => {
      let caught: unknown;
      try {
        decideVersionChange({ from: '1.13.4', to: bad });
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(GuardError);
      expect((caught as GuardError).kind).to.equal('usage');
      expect((caught as GuardError).message).to.contain('not a semver version');
    });
  }

  it('gives a direct path when no minor is skipped', () => {
    expect(upgradePath(parseVersion('1.12.1'), parseVersion('1.13.0'))).to.deep.equal(['1.12.1', '1.13.0']);
  });
});
