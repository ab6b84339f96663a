#!/usr/bin/env node
// Assembles the e2e node's container images on this machine, without a registry or a Docker daemon, as OCI image
// layouts in .cache/images/<name>/ (test/cluster/node/import-images.sh streams each into containerd):
//
//   pause    the pod sandbox process (test/cluster/node/pause.c, built static here)
//   hook     the qdrant-upgrade-guard image as the Dockerfile describes it: this machine's Node 20 and its glibc
//            at /nodejs/bin/node, dist/ bundle at /app with the #!/nodejs/bin/node shebang, the two symlinks in
//            /usr/local/bin, no shell, USER 1000:1000, WORKDIR /app, the Dockerfile's ENTRYPOINT/CMD/ENV/LABELs.
//            Named as the chart renders it (upgradeGuard.image in chart/values.yaml).
//   qdrant   per Qdrant version in QDRANT_BIN_DIR: a real Qdrant binary laid out as the official image
//            (https://github.com/qdrant/qdrant/blob/v1.13.5/Dockerfile): /qdrant/qdrant, /qdrant/config/,
//            /qdrant/entrypoint.sh, WORKDIR /qdrant, ENV TZ/RUN_MODE, ports 6333/6334, plus bash and the few
//            programs the chart's initialize.sh and entrypoint use. Both tags: vX.Y.Z (USER 0:0, like upstream)
//            and vX.Y.Z-unprivileged (USER 1000:1000, /qdrant owned by 1000, storage/ and snapshots/ made).
//
// Usage: node scripts/images/build.mjs [pause] [hook] [qdrant] (default: all). Prints one line per image.
// Needs root (the layer records the owners staged here) and GNU tar; `make bundle` first for the hook image.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { writeImage } from './oci.mjs';
import { Rootfs } from './rootfs.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Where the layouts go: IMAGES_DIR, else .cache/images (read on each call, so a test can point it elsewhere). */
export function imagesDir() {
  return process.env.IMAGES_DIR ? path.resolve(process.env.IMAGES_DIR) : path.join(repo, '.cache', 'images');
}
const stageDir = () => path.join(imagesDir(), '.stage');

export const PAUSE_IMAGE = 'localhost/qdrant-upgrade-guard-e2e/pause:1';

/** Docker's reference normalisation, as the CRI applies it: `qdrant/qdrant:v1` -> `docker.io/qdrant/qdrant:v1`. */
export function normalizeRef(ref) {
  const slash = ref.indexOf('/');
  const first = slash < 0 ? '' : ref.slice(0, slash);
  const hasDomain = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  let name = hasDomain ? ref : `docker.io/${slash < 0 ? `library/${ref}` : ref}`;
  if (!/:[^/]+$/.test(name) && !name.includes('@')) name += ':latest';
  return name;
}

/** The hook image name the chart renders by default. */
export function chartHookImage() {
  const values = yaml.load(fs.readFileSync(path.join(repo, 'chart', 'values.yaml'), 'utf8'));
  const img = values.upgradeGuard.image;
  return normalizeRef(`${img.repository}:${img.tag}`);
}

function sh(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

function report(name, names, res) {
  const mb = (res.layerSize / 1e6).toFixed(1);
  console.log(`image ${name}: ${names.join(', ')} ${res.manifestDigest.slice(0, 19)} ${mb} MB -> ${path.relative(repo, res.layout)}`);
}

// Minimal /etc entries every image gets: a passwd/group naming root, nobody, and the image's non-root users,
// so `id`, Node's os.userInfo() and Qdrant's logs have names to print.
function etc(fs_, users) {
  const passwd = ['root:x:0:0:root:/root:/sbin/nologin', 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin'];
  const group = ['root:x:0:', 'nogroup:x:65534:'];
  for (const u of users) {
    passwd.push(`${u.name}:x:${u.uid}:${u.uid}:${u.name}:${u.home}:/sbin/nologin`);
    group.push(`${u.name}:x:${u.uid}:`);
  }
  fs_.write('/etc/passwd', `${passwd.join('\n')}\n`);
  fs_.write('/etc/group', `${group.join('\n')}\n`);
  fs_.write('/etc/nsswitch.conf', 'passwd: files\ngroup: files\nhosts: files dns\n');
  fs_.mkdir('/tmp', 0o1777);
  if (fs.existsSync('/etc/ssl/certs/ca-certificates.crt')) {
    fs_.copy('/etc/ssl/certs/ca-certificates.crt', '/etc/ssl/certs/ca-certificates.crt', 0o644);
  }
}

export function buildPause() {
  const root = new Rootfs(path.join(stageDir(), 'pause'));
  const bin = path.join(stageDir(), 'pause.bin');
  sh('gcc', ['-static', '-Os', '-s', '-o', bin, path.join(repo, 'test', 'cluster', 'node', 'pause.c')]);
  root.copy(bin, '/pause', 0o755);
  const names = [PAUSE_IMAGE];
  const res = writeImage(root.dir, path.join(imagesDir(), 'pause'), {
    names,
    config: { Entrypoint: ['/pause'], User: '65535:65535', WorkingDir: '/' },
  });
  fs.rmSync(root.dir, { recursive: true, force: true });
  report('pause', names, res);
  return res;
}

/** The final stage of the Dockerfile, as data: USER, WORKDIR, ENTRYPOINT, CMD, ENV, LABEL. */
export function dockerfileFinalStage(text) {
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  let start = 0;
  lines.forEach((l, i) => { if (/^FROM\s/i.test(l)) start = i; });
  const st = { env: {}, labels: {}, user: undefined, workdir: undefined, entrypoint: undefined, cmd: undefined };
  const kv = (s) => {
    const m = {};
    for (const p of s.match(/(\S+?)=("(?:[^"\\]|\\.)*"|\S+)/g) ?? []) {
      const eq = p.indexOf('=');
      m[p.slice(0, eq)] = p.slice(eq + 1).replace(/^"(.*)"$/, '$1');
    }
    return m;
  };
  for (const l of lines.slice(start + 1)) {
    const m = /^(\w+)\s+(.*)$/.exec(l.trim());
    if (!m) continue;
    const [, ins, arg] = m;
    switch (ins.toUpperCase()) {
      case 'ENV': Object.assign(st.env, kv(arg)); break;
      case 'LABEL': Object.assign(st.labels, kv(arg)); break;
      case 'USER': st.user = arg.trim(); break;
      case 'WORKDIR': st.workdir = arg.trim(); break;
      case 'ENTRYPOINT': st.entrypoint = JSON.parse(arg); break;
      case 'CMD': st.cmd = JSON.parse(arg); break;
      default: break;
    }
  }
  return st;
}

export function buildHook() {
  const bundle = path.join(repo, 'dist', 'qdrant-upgrade-guard.mjs');
  if (!fs.existsSync(bundle)) throw new Error(`${bundle} missing: run \`make bundle\` (node scripts/bundle.mjs) first`);
  const df = dockerfileFinalStage(fs.readFileSync(path.join(repo, 'Dockerfile'), 'utf8'));
  const root = new Rootfs(path.join(stageDir(), 'hook'));
  // distroless/nodejs20-debian12:nonroot: Node at /nodejs/bin/node, glibc, CA certificates, user nonroot.
  root.program(process.execPath, '/nodejs/bin/node');
  etc(root, [{ name: 'nonroot', uid: 65532, home: '/home/nonroot' }]);
  root.mkdir('/home/nonroot', 0o700, 65532, 65532);
  // The Dockerfile's build stage: the shebang rewritten for an image without /usr/bin/env, mode 0555, two symlinks.
  const src = fs.readFileSync(bundle, 'utf8');
  root.write('/app/qdrant-upgrade-guard.mjs', src.replace(/^#!.*\n/, '#!/nodejs/bin/node\n'), 0o555);
  root.symlink('/app/qdrant-upgrade-guard.mjs', '/usr/local/bin/qdrant-upgrade-guard');
  root.symlink('/nodejs/bin/node', '/usr/local/bin/node');
  const env = { SSL_CERT_FILE: '/etc/ssl/certs/ca-certificates.crt', ...df.env };
  const names = [chartHookImage()];
  const res = writeImage(root.dir, path.join(imagesDir(), 'hook'), {
    names,
    config: {
      User: df.user,
      WorkingDir: df.workdir,
      Entrypoint: df.entrypoint,
      Cmd: df.cmd,
      Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      Labels: df.labels,
    },
  });
  fs.rmSync(root.dir, { recursive: true, force: true });
  report('hook', names, res);
  return res;
}

// The programs the Qdrant image carries beside Qdrant: bash for the chart's `command: ["/bin/bash", "-c"]` and
// initialize.sh (ulimit, exec), env for the entrypoint's `#!/usr/bin/env bash`, and a few coreutils an operator
// reaches for with kubectl exec (the official image is Debian slim, which has them all).
const QDRANT_TOOLS = ['/bin/bash', '/usr/bin/env', '/bin/sh', '/bin/cat', '/bin/ls', '/bin/mkdir', '/bin/rm', '/bin/sleep',
  '/usr/bin/id', '/bin/touch', '/usr/bin/stat', '/bin/df'];

export async function qdrantVersions() {
  const { availableQdrantVersions } = await import('../../test/support/real-qdrant/binaries.ts');
  return availableQdrantVersions();
}

export async function buildQdrant(version) {
  const { resolveQdrantBinarySync } = await import('../../test/support/real-qdrant/binaries.ts');
  const binary = resolveQdrantBinarySync(version).path;
  const results = [];
  for (const unprivileged of [false, true]) {
    const uid = unprivileged ? 1000 : 0;
    const tag = `v${version}${unprivileged ? '-unprivileged' : ''}`;
    const root = new Rootfs(path.join(stageDir(), `qdrant-${tag}`));
    for (const t of QDRANT_TOOLS) root.program(t);
    etc(root, unprivileged ? [{ name: 'qdrant', uid: 1000, home: '/home/qdrant' }] : []);
    if (unprivileged) root.mkdir('/home/qdrant', 0o755, 1000, 1000);
    root.program(binary, '/qdrant/qdrant');
    root.mkdir('/qdrant/config');
    root.copy(path.join(repo, 'test', 'cluster', 'images', 'qdrant', 'entrypoint.sh'), '/qdrant/entrypoint.sh', 0o755);
    root.mkdir('/qdrant/static');
    if (unprivileged) {
      root.mkdir('/qdrant/storage');
      root.mkdir('/qdrant/snapshots');
      root.chownTree('/qdrant', 1000, 1000);
    }
    const names = [normalizeRef(`qdrant/qdrant:${tag}`)];
    const res = writeImage(root.dir, path.join(imagesDir(), `qdrant-${tag}`), {
      names,
      config: {
        User: `${uid}:${uid}`,
        WorkingDir: '/qdrant',
        Cmd: ['./entrypoint.sh'],
        Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TZ=Etc/UTC', 'RUN_MODE=production'],
        ExposedPorts: { '6333/tcp': {}, '6334/tcp': {} },
        Labels: { 'org.opencontainers.image.title': 'Qdrant', 'org.opencontainers.image.version': version },
      },
    });
    fs.rmSync(root.dir, { recursive: true, force: true });
    report('qdrant', names, res);
    results.push(res);
  }
  return results;
}

async function main() {
  const want = process.argv.slice(2);
  const all = want.length === 0;
  if (process.getuid?.() !== 0) throw new Error('run as root: the image layers record the owners staged here');
  fs.mkdirSync(imagesDir(), { recursive: true });
  if (all || want.includes('pause')) buildPause();
  if (all || want.includes('hook')) buildHook();
  if (all || want.includes('qdrant')) {
    const versions = await qdrantVersions();
    if (versions.length === 0) throw new Error('no Qdrant binary: set QDRANT_BIN_DIR (see test/support/real-qdrant)');
    for (const v of versions) await buildQdrant(v);
  }
  fs.rmSync(stageDir(), { recursive: true, force: true });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(`images: ${e.message}`);
    process.exit(1);
  });
}
