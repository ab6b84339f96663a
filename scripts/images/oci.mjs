// Writes an OCI image layout (https://github.com/opencontainers/image-spec/blob/v1.1.0/image-layout.md) from a
// staged root file system and an image config, without a registry or a Docker daemon. `ctr images import` reads
// the layout as a tar stream (test/cluster/node/import-images.sh pipes it, so no second copy lands on disk).
// One uncompressed layer: the images never leave this machine, so gzip would only
// cost time. GNU tar writes the layer with sorted names, a fixed mtime and numeric owners as staged, so the same
// inputs give the same digest.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const CONFIG = 'application/vnd.oci.image.config.v1+json';
const LAYER = 'application/vnd.oci.image.layer.v1.tar';

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout || '').trim()}`);
  }
  return r.stdout;
}

function sha256File(file) {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

function putBlob(blobs, data) {
  const hex = createHash('sha256').update(data).digest('hex');
  fs.writeFileSync(path.join(blobs, hex), data);
  return { digest: `sha256:${hex}`, size: data.length };
}

/**
 * Builds the layout in `outDir` (replaced) from `rootfs`.
 * image: { config: {User, Env, Entrypoint, Cmd, WorkingDir, Labels, ExposedPorts}, names: ['docker.io/x/y:tag'],
 *          created?: ISO string, history?: string }
 * Returns { layout, manifestDigest, configDigest, layerDigest, layerSize }.
 */
export function writeImage(rootfs, outDir, image) {
  fs.rmSync(outDir, { recursive: true, force: true });
  const blobs = path.join(outDir, 'blobs', 'sha256');
  fs.mkdirSync(blobs, { recursive: true });

  const layerTmp = path.join(outDir, 'layer.tar');
  run('tar', [
    '--create', '--file', layerTmp, '--directory', rootfs,
    '--sort=name', '--numeric-owner', '--mtime=@0', '--format=posix',
    '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime', '--no-xattrs', '--no-acls', '.',
  ]);
  const layerHex = sha256File(layerTmp);
  const layerSize = fs.statSync(layerTmp).size;
  fs.renameSync(layerTmp, path.join(blobs, layerHex));

  const created = image.created ?? '1970-01-01T00:00:00Z';
  const config = {
    created,
    architecture: 'amd64',
    os: 'linux',
    config: image.config,
    rootfs: { type: 'layers', diff_ids: [`sha256:${layerHex}`] },
    history: [{ created, created_by: image.history ?? 'scripts/images (qdrant-upgrade-guard e2e)' }],
  };
  const cfg = putBlob(blobs, Buffer.from(JSON.stringify(config)));
  const manifest = {
    schemaVersion: 2,
    mediaType: MANIFEST,
    config: { mediaType: CONFIG, ...cfg },
    layers: [{ mediaType: LAYER, digest: `sha256:${layerHex}`, size: layerSize }],
  };
  const man = putBlob(blobs, Buffer.from(JSON.stringify(manifest)));
  const index = {
    schemaVersion: 2,
    manifests: image.names.map((name) => ({
      mediaType: MANIFEST,
      ...man,
      platform: { architecture: 'amd64', os: 'linux' },
      // containerd's importer names the image from io.containerd.image.name; other tools read ref.name.
      annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': name },
    })),
  };
  fs.writeFileSync(path.join(outDir, 'index.json'), JSON.stringify(index));
  fs.writeFileSync(path.join(outDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));

  return {
    layout: outDir,
    manifestDigest: man.digest,
    configDigest: cfg.digest,
    layerDigest: `sha256:${layerHex}`,
    layerSize,
  };
}

/** The file list of the layout's single layer: [{path, type, mode, uid, gid, link}] read back with GNU tar. */
export function listLayer(layout) {
  const index = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8'));
  const blob = (d) => path.join(layout, 'blobs', 'sha256', d.replace(/^sha256:/, ''));
  const manifest = JSON.parse(fs.readFileSync(blob(index.manifests[0].digest), 'utf8'));
  const config = JSON.parse(fs.readFileSync(blob(manifest.config.digest), 'utf8'));
  const out = run('tar', ['--list', '--verbose', '--numeric-owner', '--file', blob(manifest.layers[0].digest)]);
  const entries = [];
  for (const line of out.split('\n')) {
    // drwxr-xr-x 0/0 0 1970-01-01 00:00 ./app/   |  lrwxrwxrwx 0/0 0 1970-01-01 00:00 ./a -> /b
    const m = /^(\S)(\S{9})\s+(\d+)\/(\d+)\s+\d+\s+\S+\s+\S+\s+(.*)$/.exec(line);
    if (!m) continue;
    let name = m[5];
    let link;
    if (m[1] === 'l') [name, link] = name.split(' -> ');
    else if (m[1] === 'h') [name, link] = name.split(' link to ');
    const p = `/${name.replace(/^\.\/?/, '').replace(/\/$/, '')}`;
    entries.push({ path: p, type: m[1], mode: m[2], uid: Number(m[3]), gid: Number(m[4]), link });
  }
  return { index, manifest, config, entries };
}
