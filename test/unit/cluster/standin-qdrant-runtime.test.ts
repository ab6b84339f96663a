// The kubelet stand-in's choice between the real Qdrant binary and the emulator, and the hosts file real Qdrant
// resolves its peers through (test/cluster/kubelet/images.ts, network.ts).
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { QDRANT_RUNTIME_ANNOTATION, qdrantRuntimeChoice } from '../../cluster/kubelet/images.js';
import { hostsText, podHostnames, ResolveFile } from '../../cluster/kubelet/network.js';

describe('kubelet stand-in: which Qdrant a qdrant/qdrant container runs', () => {
  const rows: Array<[string, Record<string, string> | undefined, string | undefined, string]> = [
    ['no annotation, no default: auto (real when QDRANT_BIN_DIR has the version)', undefined, undefined, 'auto'],
    ['the stand-in default applies to a pod without the annotation', { other: 'x' }, 'emulator', 'emulator'],
    ['the pod annotation wins over the stand-in default', { [QDRANT_RUNTIME_ANNOTATION]: 'real' }, 'emulator', 'real'],
    ['a pod pinned to the emulator', { [QDRANT_RUNTIME_ANNOTATION]: 'emulator' }, 'auto', 'emulator'],
    ['an empty default counts as auto', undefined, '  ', 'auto'],
  ];
  for (const [title, annotations, def, want] of rows) {
    it(title, () => expect(qdrantRuntimeChoice(annotations, def)).to.deep.equal({ ok: true, choice: want }));
  }

  it('refuses an unknown annotation value, naming the annotation and the allowed values', () => {
    const r = qdrantRuntimeChoice({ [QDRANT_RUNTIME_ANNOTATION]: 'Real' }, undefined);
    expect(r).to.deep.equal({ ok: false, reason: `pod annotation ${QDRANT_RUNTIME_ANNOTATION}="Real" is not one of auto, real, emulator` });
  });

  it('refuses an unknown stand-in default, naming STANDIN_QDRANT', () => {
    const r = qdrantRuntimeChoice(undefined, 'fast');
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.reason).to.contain('STANDIN_QDRANT="fast"');
  });
});

describe('kubelet stand-in: the hosts file for real Qdrant', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'standin-hosts-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('lists localhost, then each pod address once with all its names', () => {
    const text = hostsText({ 'q-0': '127.1.0.1', 'q-0.q-headless': '127.1.0.1', 'q-1.q-headless': '127.1.0.2' });
    expect(text).to.equal('127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.1.0.1\tq-0 q-0.q-headless\n127.1.0.2\tq-1.q-headless\n');
  });

  it('rewrites the hosts file in place (same inode), so a bind mount of it sees every change', () => {
    const hosts = path.join(dir, 'hosts');
    const rf = new ResolveFile(path.join(dir, 'resolve.json'), hosts);
    const inode = fs.statSync(hosts).ino;
    rf.set('uid-1', podHostnames({ name: 'q-0', namespace: 'ns', hostname: 'q-0', subdomain: 'q-headless' }), '127.1.0.7');
    expect(fs.readFileSync(hosts, 'utf8')).to.contain('127.1.0.7\tq-0 q-0.q-headless q-0.q-headless.ns q-0.q-headless.ns.svc q-0.q-headless.ns.svc.cluster.local\n');
    rf.set('uid-1', ['q-0'], '127.1.0.9');
    rf.delete('uid-1');
    expect(fs.statSync(hosts).ino, 'same file, not a renamed copy').to.equal(inode);
    expect(fs.readFileSync(hosts, 'utf8')).to.not.contain('127.1.0.');
  });
});
