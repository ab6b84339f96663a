// docs/rbac.md is generated from hook/kube/permissions.ts: it must say what the Roles grant today.
import fs from 'node:fs';
import { expect } from 'chai';
import { CHART_README, RBAC_DOC, chartReadmeWithTable, renderRbacDoc } from '../../scripts/rbac-table.js';

describe('docs/rbac.md: the rendered-RBAC table', () => {
  it('is current with the code\'s declarations (regenerate: npx tsx scripts/rbac-table.ts)', () => {
    expect(fs.readFileSync(RBAC_DOC, 'utf8')).to.equal(renderRbacDoc());
  });
  it('chart/README.md carries the same table (regenerate: npx tsx scripts/rbac-table.ts)', () => {
    const readme = fs.readFileSync(CHART_README, 'utf8');
    expect(readme).to.equal(chartReadmeWithTable(readme));
    expect(readme).to.contain('| `<fullname>-guard-restore-volume`');
  });
  it('lists every Role and the pod-creation caveat', () => {
    const doc = renderRbacDoc();
    for (const role of ['guard-pre-upgrade', 'guard-post-upgrade', 'guard-test', 'guard-restore-volume']) expect(doc).to.contain(role);
    expect(doc).to.contain('can mount any Secret');
  });
});
