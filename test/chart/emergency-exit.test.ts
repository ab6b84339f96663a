// The emergency exits the docs name render what they say: each switch removes exactly its part of the guard.
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { HELMS, renderOk, render, repoRoot } from './support/helm.js';

const guardObjects = (docs: { metadata: { name: string } }[]) => docs.filter((d) => d.metadata.name.includes('-guard-')).map((d) => d.metadata.name);

describe('chart: the emergency exits', () => {
  for (const helm of HELMS) {
    it(`upgradeGuard.startupCheck.enabled=false drops only the startup check (${helm})`, () => {
      const docs = renderOk(helm, { upgrade: true, values: { upgradeGuard: { startupCheck: { enabled: false } } } });
      const sts = docs.find((d) => d.kind === 'StatefulSet')!;
      expect(sts.spec.template.spec.initContainers ?? []).to.deep.equal([]);
      expect(guardObjects(docs)).to.include('rel-qdrant-guard-pre-upgrade');
    });

    it(`upgradeGuard.enabled=false renders no guard object and no startup check (${helm})`, () => {
      const docs = renderOk(helm, { upgrade: true, values: { upgradeGuard: { enabled: false } } });
      expect(guardObjects(docs)).to.deep.equal([]);
      expect(docs.find((d) => d.kind === 'StatefulSet')!.spec.template.spec.initContainers ?? []).to.deep.equal([]);
    });

    it(`ReadWriteOncePod storage is refused at render time with the reason and the way out (${helm})`, () => {
      const r = render(helm, { values: { persistence: { accessModes: ['ReadWriteOncePod'] } } });
      expect(r.status).to.not.equal(0);
      expect(r.stderr).to.contain('ReadWriteOncePod: only one pod may use such a volume');
      expect(r.stderr).to.contain('upgradeGuard.preUpgrade.enabled=false');
      renderOk(helm, { values: { persistence: { accessModes: ['ReadWriteOncePod'] }, upgradeGuard: { preUpgrade: { enabled: false } } } });
    });
  }

  it('docs/operations.md and the README name all three switches and what each loses', () => {
    const ops = fs.readFileSync(path.join(repoRoot, 'docs/operations.md'), 'utf8');
    const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    for (const sw of ['upgradeGuard.startupCheck.enabled=false', '--no-hooks', 'upgradeGuard.enabled=false']) {
      expect(ops).to.contain(sw);
      expect(readme).to.contain(sw);
    }
    expect(ops).to.match(/what is lost/);
  });
});
