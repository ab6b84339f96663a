import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ALL_CHECK_IDS, runbookOf } from '../../../hook/policy/check-ids.js';
import { RUNBOOKS, UPSTREAM, noArchive, restoreArchive, runbook } from '../../../hook/policy/remedies.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const docsDir = path.join(repoRoot, 'docs');

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchorsOf(file: string): Set<string> {
  const text = fs.readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  const out = new Set<string>();
  for (const m of text.matchAll(/^#{1,6}\s+(.+)$/gm)) out.add(slug(m[1]!));
  return out;
}

function filesUnder(dir: string, exts: string[]): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return filesUnder(p, exts);
    return exts.some((x) => e.name.endsWith(x)) ? [p] : [];
  });
}

/** Every `docs/<page>.md` or `docs/<page>.md#<anchor>` written in these files. */
function docReferences(files: string[]): Array<{ from: string; page: string; anchor?: string }> {
  const refs: Array<{ from: string; page: string; anchor?: string }> = [];
  for (const file of files) {
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\bdocs\/([a-z0-9][a-z0-9-]*\.md)(?:#([a-z0-9-]+))?/g)) {
      refs.push({ from: path.relative(repoRoot, file), page: m[1]!, ...(m[2] ? { anchor: m[2] } : {}) });
    }
  }
  return refs;
}

function unresolved(refs: Array<{ from: string; page: string; anchor?: string }>): string[] {
  return refs
    .filter((r) => {
      const file = path.join(docsDir, r.page);
      if (!fs.existsSync(file)) return true;
      return r.anchor !== undefined && !anchorsOf(file).has(r.anchor);
    })
    .map((r) => `${r.from}: docs/${r.page}${r.anchor ? `#${r.anchor}` : ''}`);
}

describe('runbooks: every anchor a message or comment names resolves to a heading in docs/', () => {
  it('computes anchors the way GitHub does', () => {
    expect(slug('Turn the guard off in an emergency')).to.equal('turn-the-guard-off-in-an-emergency');
    expect(slug('VolumeSnapshot failed')).to.equal('volumesnapshot-failed');
    expect(slug('Post-upgrade failed')).to.equal('post-upgrade-failed');
  });

  it('every RUNBOOKS section is a heading of docs/runbooks.md', () => {
    const headings = anchorsOf(path.join(docsDir, 'runbooks.md'));
    const missing = Object.values(RUNBOOKS).filter((a) => !headings.has(a));
    expect(missing).to.deep.equal([]);
    for (const id of ALL_CHECK_IDS) expect(headings.has(runbookOf(id).split('#')[1]!), id).to.equal(true);
  });

  it('every docs/ page and anchor named in hook/ and chart/ exists', () => {
    const files = [...filesUnder(path.join(repoRoot, 'hook'), ['.ts']), ...filesUnder(path.join(repoRoot, 'chart'), ['.yaml', '.tpl', '.txt', '.md', '.json'])];
    const refs = docReferences(files);
    expect(refs.length, 'references found').to.be.greaterThan(10);
    expect(unresolved(refs)).to.deep.equal([]);
  });

  it('every docs/ reference in README.md, tests, scripts and bench exists too', () => {
    const files = [
      path.join(repoRoot, 'README.md'),
      ...filesUnder(path.join(repoRoot, 'test'), ['.ts']).filter((f) => !f.includes(`${path.sep}fixtures${path.sep}`)),
      ...filesUnder(path.join(repoRoot, 'scripts'), ['.ts', '.mjs', '.sh']),
      ...filesUnder(path.join(repoRoot, 'bench'), ['.ts', '.sh']),
    ];
    expect(unresolved(docReferences(files))).to.deep.equal([]);
  });

  it('links between docs/ pages resolve (page and anchor)', () => {
    const broken: string[] = [];
    for (const file of filesUnder(docsDir, ['.md'])) {
      const text = fs.readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const m of text.matchAll(/\]\(((?:[a-z0-9-]+\.md)?)(?:#([a-z0-9-]+))?\)/g)) {
        const target = m[1] ? path.join(docsDir, m[1]) : file;
        if (!m[1] && !m[2]) continue;
        if (!fs.existsSync(target) || (m[2] && !anchorsOf(target).has(m[2]))) broken.push(`${path.basename(file)}: ${m[0]}`);
      }
    }
    expect(broken).to.deep.equal([]);
  });

  it('the restore advice names the runbook, the command and, where it applies, the upstream issue', () => {
    const inCluster = restoreArchive({
      archivePath: '/qdrant/storage/.upgrade-guard/raft-qdrant-1-1.13.4-to-1.13.5-20250321T101502Z.tar.gz',
      storagePath: '/qdrant/storage',
      statefulset: 'qdrant',
      pvc: 'qdrant-storage-qdrant-1',
    });
    expect(inCluster).to.equal(
      'Scale the StatefulSet to 0 (kubectl scale statefulset qdrant --replicas=0), restore raft-qdrant-1-1.13.4-to-1.13.5-20250321T101502Z.tar.gz ' +
        'on pvc/qdrant-storage-qdrant-1 with `qdrant-upgrade-guard restore --archive /qdrant/storage/.upgrade-guard/raft-qdrant-1-1.13.4-to-1.13.5-20250321T101502Z.tar.gz ' +
        '--storage /qdrant/storage`, then scale back (docs/runbooks.md#restore-an-archive).',
    );
    const local = restoreArchive({ storagePath: '/data/q1', pod: 'qdrant-1' });
    expect(local).to.contain('Keep Qdrant stopped on this volume');
    expect(local).to.contain("newest pre-upgrade archive of qdrant-1's volume (list them with `qdrant-upgrade-guard archives --storage /data/q1`)");
    expect(local).to.contain('--archive <file>');
    expect(noArchive({ pvc: 'qdrant-storage-qdrant-1' })).to.contain(runbook(RUNBOOKS.noArchive));
    expect(UPSTREAM.lostRaftState).to.equal('https://github.com/qdrant/qdrant/issues/6229');
  });
});
