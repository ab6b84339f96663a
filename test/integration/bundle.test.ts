/**
 * The hook image holds only Node and the bundle. Without a Docker engine here, this proves the same thing:
 * the bundle, copied alone into an empty folder (no node_modules anywhere up its path), runs every
 * per-volume command, also through an extensionless symlink as /usr/local/bin/qdrant-upgrade-guard is
 * in the image.
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bundle = path.join(repoRoot, 'dist', 'qdrant-upgrade-guard.mjs');
const fixture = (f: string) => path.resolve(repoRoot, 'test/fixtures/raft-state/constructed', f);

describe('the bundle runs alone from an empty folder', function () {
  this.timeout(60_000);
  let dir: string;
  let storage: string;
  let cli: string;

  before(async () => {
    if (!existsSync(bundle)) execFileSync(process.execPath, [path.join(repoRoot, 'scripts', 'bundle.mjs')], { stdio: 'inherit' });
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'qug-bundle-'));
    cli = path.join(dir, 'qdrant-upgrade-guard.mjs');
    await fs.copyFile(bundle, cli);
    await fs.chmod(cli, 0o755);
    storage = await fs.mkdtemp(path.join(os.tmpdir(), 'qug-bundle-storage-'));
    await fs.copyFile(fixture('legacy-bigint_created-v1.1_running-v1.13.4_cluster-2peer.json'), path.join(storage, 'raft_state.json'));
    await fs.mkdir(path.join(storage, 'collections_meta_wal'));
    await fs.writeFile(path.join(storage, 'collections_meta_wal', 'open-1'), Buffer.alloc(100_000, 7));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
    await fs.rm(storage, { recursive: true, force: true });
  });

  const run = (args: string[], exe: string[] = [process.execPath, cli]) =>
    spawnSync(exe[0]!, [...exe.slice(1), ...args], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });

  it('has nothing but the bundle beside it and no node_modules on its path', async () => {
    expect(await fs.readdir(dir)).to.deep.equal(['qdrant-upgrade-guard.mjs']);
    for (let d = dir; d !== path.dirname(d); d = path.dirname(d)) expect(existsSync(path.join(d, 'node_modules')), d).to.equal(false);
    expect((await fs.readFile(cli, 'utf8')).startsWith('#!/usr/bin/env node\n')).to.equal(true);
  });

  it('inspects a fixture volume and prints exact u64 ids', () => {
    const r = run(['inspect', '--storage', storage, '--output', 'json']);
    expect(r.status, r.stderr).to.equal(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.details.classification).to.equal('initialized');
    expect(doc.details.state.thisPeerId).to.equal('11532566549086892528');
    expect(doc.details.state.firstVoter).to.equal('18446744073709551615');
  });

  it('archives, refuses a lost state, and restores through the bundle', () => {
    const v = run(['volume', '--storage', storage, '--from', '1.13.4', '--to', '1.13.5', '--pod', 'qdrant-0', '--output', 'json']);
    expect(v.status, v.stderr).to.equal(0);
    const archive = JSON.parse(v.stdout).details.archive;
    expect(archive.name).to.match(/^raft-qdrant-0-1\.13\.4-to-1\.13\.5-/);
    execFileSync('rm', [path.join(storage, 'raft_state.json')]);
    const refused = run(['volume', '--storage', storage, '--check-only']);
    expect(refused.status).to.equal(1);
    expect(refused.stdout).to.contain('REFUSED');
    const restored = run(['restore', '--archive', archive.path, '--storage', storage]);
    expect(restored.status, restored.stdout + restored.stderr).to.equal(0);
    expect(run(['volume', '--storage', storage, '--check-only']).status).to.equal(0);
  });

  it('runs as an executable through an extensionless symlink (the image layout)', async () => {
    const link = path.join(dir, 'bin', 'qdrant-upgrade-guard');
    await fs.mkdir(path.dirname(link));
    await fs.symlink(cli, link);
    const r = run(['--version'], [link]);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout.trim()).to.match(/^\d+\.\d+\.\d+/);
    await fs.rm(path.join(dir, 'bin'), { recursive: true });
  });

  it('runs with the shebang rewritten to an absolute node, as the Dockerfile does for distroless (no /usr/bin/env)', async () => {
    const app = path.join(dir, 'app');
    await fs.mkdir(path.join(app, 'bin'), { recursive: true });
    const text = await fs.readFile(cli, 'utf8');
    const rewritten = text.replace(/^#!.*$/m, `#!${process.execPath}`);
    await fs.writeFile(path.join(app, 'qdrant-upgrade-guard.mjs'), rewritten, { mode: 0o555 });
    await fs.symlink(path.join(app, 'qdrant-upgrade-guard.mjs'), path.join(app, 'bin', 'qdrant-upgrade-guard'));
    const r = spawnSync(path.join(app, 'bin', 'qdrant-upgrade-guard'), ['inspect', '--storage', storage], { cwd: '/', encoding: 'utf8', env: {} });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^PASS: .* is initialized: peer 11532566549086892528/);
    await fs.rm(app, { recursive: true });
  });

  it('exits 2 on a usage error', () => {
    const r = run(['volume', '--storage', storage]);
    expect(r.status).to.equal(2);
  });
});
