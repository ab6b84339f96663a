// The README's tables for users of the official chart, checked against it: every official key has a row saying
// what it does here, and each verdict holds. `same`: some parity case sets the key away from the official default
// (test/chart/official-parity.test.ts then proves the render matches); `accepted, no effect`: setting it renders
// exactly what leaving it out renders; `refused`: a rejected-values case sets it and is refused naming it. The
// intended-differences table is INTENDED_DIFFERENCES, word for word. And `helm upgrade --reuse-values` from the
// official chart (this chart rendered on the official defaults) is refused with the recipes that work.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { chartDir, HELMS, helmBin, render, repoRoot } from './support/helm.js';
import { caseValues, OFFICIAL, officialKeys, officialValues, PARITY_CASES, valueAt } from './support/official-chart.js';
import { INTENDED_DIFFERENCES } from './support/official-differences.js';

const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');

/** The rows of the table that follows `marker` in README.md: [first cell without backquotes, second cell]. */
function tableAfter(marker: string): [string, string][] {
  const start = readme.indexOf(marker);
  expect(start, `README.md has the marker ${marker}`).to.be.greaterThan(-1);
  const lines = readme.slice(start).split('\n').slice(1);
  const rows: [string, string][] = [];
  for (const line of lines.slice(2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
    rows.push([cells[0]!.replace(/^`|`$/g, ''), cells[1]!]);
  }
  return rows;
}

const keyRows = tableAfter('<!-- official-keys:');

type Rejected = { name: string; by: string; refusal: unknown; values: Record<string, unknown> };
const rejected = parse(fs.readFileSync(path.join(repoRoot, 'test/chart/fixtures/rejected-values.yaml'), 'utf8')) as Rejected[];

describe('chart: the official chart\'s keys (README tables)', () => {
  it('has one row per official key (values.yaml and the keys its templates read), no other', () => {
    const keys = officialKeys();
    expect(keys.length).to.equal(102);
    expect(keyRows.map(([k]) => k).sort()).to.deep.equal(keys);
  });

  it('gives every key one of the verdicts the table explains', () => {
    const bad = keyRows.filter(([, v]) => !/^(same|same, other default|accepted, no effect|refused past|works here, ignored by the official chart)\b/.test(v));
    expect(bad).to.deep.equal([]);
  });

  it('sets every key marked same away from its official default in a parity case', () => {
    const defaults = officialValues();
    const cases = PARITY_CASES.map((c) => caseValues(c.options));
    const unset = keyRows
      .filter(([, v]) => v.startsWith('same'))
      .map(([k]) => k)
      .filter((k) => !cases.some((values) => {
        const v = valueAt(values, k);
        return v !== undefined && JSON.stringify(v) !== JSON.stringify(valueAt(defaults, k));
      }));
    expect(unset).to.deep.equal([]);
  });

  it('refuses every key marked refused past its default, naming it (a rejected-values case)', () => {
    const uncovered = keyRows
      .filter(([, v]) => v.startsWith('refused'))
      .map(([k]) => k)
      .filter((k) => !rejected.some((c) => c.by === 'validate' && valueAt(c.values, k) !== undefined && (c.refusal as string[]).includes(`qdrant: ${k}`)));
    expect(uncovered).to.deep.equal([]);
  });

  for (const helm of HELMS) {
    it(`renders exactly the same with or without each key marked accepted, no effect (${helm})`, () => {
      const keys = keyRows.filter(([, v]) => v.startsWith('accepted, no effect')).map(([k]) => k);
      expect(keys.length).to.be.greaterThan(0);
      const base = render(helm, { values: { replicaCount: 3 } });
      expect(base.status, base.stderr).to.equal(0);
      for (const key of keys) {
        const official = valueAt(officialValues(), key);
        const value = typeof official === 'boolean' ? !official : typeof official === 'string' ? 'example.org/other:1' : { limits: { cpu: '1' } };
        const set = key.split('.').reduceRight<unknown>((v, k) => ({ [k]: v }), value) as Record<string, unknown>;
        const r = render(helm, { values: { replicaCount: 3, ...set } });
        expect(r.status, `${key}: ${r.stderr}`).to.equal(0);
        // The generated parts (none here: no generated key) aside, the two renders are the same text.
        expect(r.stdout, key).to.equal(base.stdout);
      }
    });
  }

  it('lists every intended difference of the renders with its reason, word for word', () => {
    const rows = tableAfter('<!-- official-differences:');
    expect(rows).to.deep.equal(INTENDED_DIFFERENCES.map((e) => [e.what, e.why]));
  });

  for (const helm of HELMS) {
    it(`refuses helm upgrade --reuse-values from the official chart, naming -f and --reset-then-reuse-values (${helm})`, () => {
      // --reuse-values renders the new chart with the previous release's chart defaults: this chart, with the
      // official values.yaml as its values.yaml, plus what the user gave.
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reuse-values-'));
      try {
        fs.cpSync(chartDir, path.join(dir, 'qdrant'), { recursive: true });
        fs.copyFileSync(path.join(repoRoot, OFFICIAL, 'values.yaml'), path.join(dir, 'qdrant', 'values.yaml'));
        const r = spawnSync(helmBin(helm), ['template', 'rel', path.join(dir, 'qdrant'), '--set', 'apiKey=k', '--set', 'replicaCount=3'], { encoding: 'utf8' });
        expect(r.status).to.not.equal(0);
        for (const line of ['VALUES VALIDATION', 'qdrant: values', '`helm upgrade --reuse-values`', '-f values.yaml', '--reset-then-reuse-values']) {
          expect(r.stderr, helm).to.include(line);
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
