// The images the real e2e node runs are assembled here (scripts/images/build.mjs) because no registry or Docker
// daemon is reachable. The Dockerfile stays the source of truth for the published hook image: these tests read it
// and check the assembled image against it (user, working dir, entrypoint, cmd, env, labels, the files its build
// stage makes, no shell), and check the Qdrant image against the official image's layout.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { chartHookImage, dockerfileFinalStage, normalizeRef } from '../../scripts/images/build.mjs';
import { listLayer } from '../../scripts/images/oci.mjs';

const repo = path.resolve(import.meta.dirname, '../..');
const dockerfile = fs.readFileSync(path.join(repo, 'Dockerfile'), 'utf8');

function modeOctal(symbolic: string): number {
  let m = 0;
  const bits = [0o400, 0o200, 0o100, 0o40, 0o20, 0o10, 0o4, 0o2, 0o1];
  for (let i = 0; i < 9; i++) if (!'-ST'.includes(symbolic[i])) m |= bits[i];
  return m;
}

/** Extracts one file of the layout's layer into dir and returns its path. */
function extract(layout: string, file: string, dir: string): string {
  const { manifest } = listLayer(layout);
  const blob = path.join(layout, 'blobs', 'sha256', manifest.layers[0].digest.slice(7));
  const r = spawnSync('tar', ['-xf', blob, '-C', dir, `.${file}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tar -x .${file}: ${r.stderr}`);
  return path.join(dir, file);
}

async function build(kind: string, dir: string, extraEnv: Record<string, string> = {}): Promise<string> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(repo, 'scripts/images/build.mjs'), kind], {
    encoding: 'utf8',
    cwd: repo,
    env: { ...process.env, IMAGES_DIR: dir, ...extraEnv },
  });
  if (r.status !== 0) throw new Error(`build.mjs ${kind} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

describe('node images: references', () => {
  it('normalises references as the CRI does', () => {
    expect(normalizeRef('qdrant/qdrant:v1.13.5')).to.equal('docker.io/qdrant/qdrant:v1.13.5');
    expect(normalizeRef('busybox')).to.equal('docker.io/library/busybox:latest');
    expect(normalizeRef('ghcr.io/a/b:1')).to.equal('ghcr.io/a/b:1');
    expect(normalizeRef('localhost/x/pause:1')).to.equal('localhost/x/pause:1');
    expect(normalizeRef('registry:5000/x')).to.equal('registry:5000/x:latest');
  });

  it("names the hook image as the chart's default values render it", () => {
    const values = fs.readFileSync(path.join(repo, 'chart/values.yaml'), 'utf8');
    const block = values.slice(values.indexOf('upgradeGuard:'));
    const repoName = /\n\s+repository: (\S+)/.exec(block.slice(block.indexOf('  image:')))![1];
    const tag = /\n\s+tag: "?([^"\n]+)"?/.exec(block.slice(block.indexOf('  image:')))![1];
    expect(chartHookImage()).to.equal(normalizeRef(`${repoName}:${tag}`));
  });
});

describe('node images: the hook image matches the Dockerfile', function () {
  this.timeout(120_000);
  let dir: string;
  let layout: string;
  let image: ReturnType<typeof listLayer>;

  before(async function () {
    if (process.getuid?.() !== 0) this.skip(); // the layer records the owners staged, which needs root
    if (!fs.existsSync(path.join(repo, 'dist/qdrant-upgrade-guard.mjs'))) throw new Error('dist/ missing: run `make bundle`');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-images-'));
    await build('hook', dir);
    layout = path.join(dir, 'hook');
    image = listLayer(layout);
  });
  after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  it('has the final stage USER, WORKDIR, ENTRYPOINT, CMD, ENV and LABELs', () => {
    const st = dockerfileFinalStage(dockerfile);
    // The Dockerfile itself must still say what the chart relies on (uid 1000, node + bundle as entrypoint).
    expect(st.user).to.equal('1000:1000');
    expect(st.entrypoint).to.deep.equal(['/nodejs/bin/node', '/app/qdrant-upgrade-guard.mjs']);
    const c = image.config.config;
    expect(c.User).to.equal(st.user);
    expect(c.WorkingDir).to.equal(st.workdir);
    expect(c.Entrypoint).to.deep.equal(st.entrypoint);
    expect(c.Cmd).to.deep.equal(st.cmd);
    for (const [k, v] of Object.entries(st.env)) expect(c.Env).to.include(`${k}=${v}`);
    expect(c.Labels).to.deep.equal(st.labels);
    expect(image.config.architecture).to.equal('amd64');
    expect(image.index.manifests[0].annotations['io.containerd.image.name']).to.equal(chartHookImage());
  });

  it("holds the files the Dockerfile's build stage makes, with their modes and links", () => {
    const byPath = new Map(image.entries.map((e) => [e.path, e]));
    // Every `ln -s TARGET /out/PATH` of the build stage is a symlink in the image.
    const links = [...dockerfile.matchAll(/ln -s (\S+) \/out(\/\S+)/g)];
    expect(links.length).to.be.greaterThan(0);
    for (const [, target, p] of links) {
      expect(byPath.get(p), p).to.include({ type: 'l', link: target });
    }
    // Every `chmod MODE /out/PATH` gives that mode.
    const chmods = [...dockerfile.matchAll(/chmod (0?[0-7]{3,4}) \/out(\/\S+)/g)];
    expect(chmods.length).to.be.greaterThan(0);
    for (const [, mode, p] of chmods) {
      expect(byPath.get(p), p).to.not.equal(undefined);
      expect(modeOctal(byPath.get(p)!.mode), p).to.equal(parseInt(mode, 8));
    }
    expect(byPath.get('/nodejs/bin/node')).to.include({ type: '-', uid: 0, gid: 0 });
  });

  it('carries the bundle of this checkout with the shebang the Dockerfile writes', () => {
    const shebang = /sed '1s\|\^#!\.\*\$\|(#![^|]+)\|'/.exec(dockerfile)?.[1];
    expect(shebang).to.equal('#!/nodejs/bin/node');
    const x = fs.mkdtempSync(path.join(dir, 'x-'));
    const got = fs.readFileSync(extract(layout, '/app/qdrant-upgrade-guard.mjs', x), 'utf8');
    const want = fs.readFileSync(path.join(repo, 'dist/qdrant-upgrade-guard.mjs'), 'utf8');
    expect(got.split('\n')[0]).to.equal(shebang);
    expect(got.slice(got.indexOf('\n'))).to.equal(want.slice(want.indexOf('\n')));
  });

  it('has no shell and no /usr/bin/env, as the distroless base', () => {
    const paths = new Set(image.entries.map((e) => e.path));
    for (const p of ['/bin/sh', '/bin/bash', '/usr/bin/sh', '/bin/dash', '/usr/bin/env', '/bin/busybox']) {
      expect(paths.has(p), p).to.equal(false);
    }
  });

  it("runs Node 20, the Dockerfile's base major, from the image's own files", () => {
    const base = /FROM gcr\.io\/distroless\/nodejs(\d+)-/.exec(dockerfile)?.[1];
    expect(base).to.equal('20');
    const x = fs.mkdtempSync(path.join(dir, 'n-'));
    const node = extract(layout, '/nodejs/bin/node', x);
    const r = spawnSync(node, ['--version'], { encoding: 'utf8' });
    expect(r.status).to.equal(0);
    expect(r.stdout.trim()).to.match(new RegExp(`^v${base}\\.`));
  });
});

describe('node images: the Qdrant image is laid out as the official one', function () {
  this.timeout(180_000);
  let dir: string;
  let version: string | undefined;

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    const { availableQdrantVersions } = await import('../support/real-qdrant/binaries.js');
    version = availableQdrantVersions().at(-1);
    if (!version) this.skip(); // no QDRANT_BIN_DIR: the real-Qdrant tier reports that, not this one
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-images-q-'));
    const { buildQdrant } = await import('../../scripts/images/build.mjs');
    process.env.IMAGES_DIR = dir;
    try {
      await buildQdrant(version);
    } finally {
      delete process.env.IMAGES_DIR;
    }
  });
  after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  it('has /qdrant/qdrant (the real binary of the tag), config/, entrypoint.sh, WORKDIR /qdrant, ENV, ports', () => {
    const layout = path.join(dir, `qdrant-v${version}`);
    const img = listLayer(layout);
    const byPath = new Map(img.entries.map((e) => [e.path, e]));
    expect(img.index.manifests[0].annotations['io.containerd.image.name']).to.equal(`docker.io/qdrant/qdrant:v${version}`);
    expect(byPath.get('/qdrant/qdrant')).to.include({ type: '-' });
    expect(byPath.get('/qdrant/config')).to.include({ type: 'd' });
    expect(modeOctal(byPath.get('/qdrant/entrypoint.sh')!.mode) & 0o111).to.not.equal(0);
    // The chart runs `/bin/bash -c ./config/initialize.sh`, which execs ./entrypoint.sh (#!/usr/bin/env bash).
    expect(byPath.get('/bin/bash')).to.include({ type: '-' });
    expect(byPath.get('/usr/bin/env')).to.include({ type: '-' });
    const c = img.config.config;
    expect(c.WorkingDir).to.equal('/qdrant');
    expect(c.Cmd).to.deep.equal(['./entrypoint.sh']);
    expect(c.User).to.equal('0:0');
    expect(c.Env).to.include.members(['TZ=Etc/UTC', 'RUN_MODE=production']);
    expect(Object.keys(c.ExposedPorts)).to.deep.equal(['6333/tcp', '6334/tcp']);
    const x = fs.mkdtempSync(path.join(dir, 'q-'));
    const r = spawnSync(extract(layout, '/qdrant/qdrant', x), ['--version'], { encoding: 'utf8' });
    expect(r.stdout).to.include(version);
  });

  it('-unprivileged runs as 1000:1000 and owns /qdrant, storage/ and snapshots/ as upstream chowns them', () => {
    const img = listLayer(path.join(dir, `qdrant-v${version}-unprivileged`));
    const byPath = new Map(img.entries.map((e) => [e.path, e]));
    expect(img.config.config.User).to.equal('1000:1000');
    for (const p of ['/qdrant', '/qdrant/qdrant', '/qdrant/storage', '/qdrant/snapshots', '/qdrant/config']) {
      expect(byPath.get(p), p).to.include({ uid: 1000, gid: 1000 });
    }
    expect(byPath.get('/bin/bash')).to.include({ uid: 0, gid: 0 });
  });
});
