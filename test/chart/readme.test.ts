// The chart README's parameter tables are generated from the values file comments and committed current.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chartDir, repoRoot } from './support/helm.js';

describe('chart: README', () => {
  it('is what scripts/chart-readme.sh generates from the ## @param comments', function () {
    this.timeout(60000);
    const r = spawnSync('scripts/chart-readme.sh', ['--check'], { cwd: repoRoot, encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).to.equal(0);
  });

  it('has a table row for every @param of values.yaml, upgradeGuard included', () => {
    const values = fs.readFileSync(path.join(chartDir, 'values.yaml'), 'utf8');
    const readme = fs.readFileSync(path.join(chartDir, 'README.md'), 'utf8');
    const params = [...values.matchAll(/^\s*## @param (\S+)/gm)].map((m) => m[1]);
    const rows = new Set([...readme.matchAll(/^\| `([^`]+)`/gm)].map((m) => m[1]));
    expect(params.length).to.be.greaterThan(100);
    expect(params.filter((p) => !rows.has(p))).to.deep.equal([]);
    expect(rows.has('upgradeGuard.stagedRollout.perPeerSeconds')).to.equal(true);
  });
});
