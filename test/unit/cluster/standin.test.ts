// Unit tests of the kubelet stand-in's pure parts (test/cluster/kubelet): image mapping, `$(VAR)` expansion and the
// downward API, mount-path rewriting, log selection and kubelet log parameters, pod addresses and DNS names.
import { expect } from 'chai';
import { ConfigError, expand, fieldPathValue, parseQuantity, resolveEnv, type EnvSources } from '../../cluster/kubelet/env.js';
import { mapImage, parseImage, qdrantVersionFromTag } from '../../cluster/kubelet/images.js';
import { fallbackMessage, formatLine, formatTime, parseLog, selectLines, type LogLine } from '../../cluster/kubelet/logs.js';
import { PodIpAllocator, podHostnames } from '../../cluster/kubelet/network.js';
import { mapPaths, resolveContainerPath } from '../../cluster/kubelet/paths.js';
import { parseLogParams } from '../../cluster/kubelet/server.js';

describe('kubelet stand-in: image mapping', () => {
  const rows: Array<[string, string | undefined, string | undefined]> = [
    ['ghcr.io/qdrant-upgrade-guard/qdrant-upgrade-guard:0.1.0', 'hook', undefined],
    ['localhost:5000/qdrant-upgrade-guard@sha256:abc', 'hook', undefined],
    ['qdrant/qdrant:v1.13.6', 'qdrant', '1.13.6'],
    ['docker.io/qdrant/qdrant:v1.14.0-unprivileged', 'qdrant', '1.14.0'],
    ['qdrant/qdrant:1.15.1', 'qdrant', '1.15.1'],
    ['local/sleeper:1', 'sleeper', undefined],
    ['docker.io/library/busybox:1.36', 'shell', undefined],
    ['alpine', 'shell', undefined],
  ];
  for (const [image, kind, version] of rows) {
    it(`maps ${image} to ${kind}`, () => {
      const m = mapImage(image);
      expect(m.ok).to.equal(true);
      if (m.ok) {
        expect(m.kind).to.equal(kind);
        expect(m.qdrantVersion).to.equal(version);
      }
    });
  }

  it('refuses a Qdrant tag that names no version, and unknown images, with a reason', () => {
    const latest = mapImage('qdrant/qdrant:latest');
    expect(latest.ok).to.equal(false);
    if (!latest.ok) expect(latest.reason).to.match(/names no version/);
    const nginx = mapImage('nginx:1.27');
    expect(nginx.ok).to.equal(false);
    if (!nginx.ok) expect(nginx.reason).to.match(/not mapped/);
  });

  it('splits registry ports from tags', () => {
    expect(parseImage('localhost:5000/a/b:1.2')).to.deep.include({ repository: 'localhost:5000/a/b', tag: '1.2' });
    expect(parseImage('localhost:5000/a/b')).to.deep.include({ repository: 'localhost:5000/a/b', tag: undefined });
    expect(qdrantVersionFromTag('v1.16.0-rc1')).to.equal(undefined);
  });
});

describe('kubelet stand-in: environment', () => {
  it('expands $(VAR) like Kubernetes: defined names, $$ escapes, unknown names kept', () => {
    const vars = new Map([
      ['POD_NAME', 'qdrant-1'],
      ['EMPTY', ''],
    ]);
    expect(expand('--pod $(POD_NAME)', vars)).to.equal('--pod qdrant-1');
    expect(expand('$$(POD_NAME) $(MISSING) $(EMPTY)x', vars)).to.equal('$(POD_NAME) $(MISSING) x');
    expect(expand('cost $5 and $(unterminated', vars)).to.equal('cost $5 and $(unterminated');
  });

  const pod = {
    metadata: { name: 'qdrant-0', namespace: 'db', uid: 'u1', labels: { app: 'qdrant' }, annotations: {} },
    spec: { nodeName: 'node-b', serviceAccountName: 'guard' },
    status: { podIP: '127.1.0.9', podIPs: [{ ip: '127.1.0.9' }], hostIP: '127.0.0.1' },
  };

  it('reads downward-API field paths', () => {
    expect(fieldPathValue(pod, 'metadata.name')).to.equal('qdrant-0');
    expect(fieldPathValue(pod, 'status.podIP')).to.equal('127.1.0.9');
    expect(fieldPathValue(pod, "metadata.labels['app']")).to.equal('qdrant');
    expect(fieldPathValue(pod, 'spec.nodeName')).to.equal('node-b');
    expect(() => fieldPathValue(pod, 'spec.bogus')).to.throw(ConfigError);
  });

  it('resolves envFrom, secrets, configmaps and fieldRefs in order, and fails on a missing key', async () => {
    const sources: EnvSources = {
      configMap: async (_ns, name) => (name === 'cfg' ? { data: { MODE: 'cluster' } } : undefined),
      secret: async (_ns, name) => (name === 'key' ? { data: { 'api-key': Buffer.from('s3cret').toString('base64') } } : undefined),
    };
    const container = {
      envFrom: [{ configMapRef: { name: 'cfg' }, prefix: 'Q_' }],
      env: [
        { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'KEY', valueFrom: { secretKeyRef: { name: 'key', key: 'api-key' } } },
        { name: 'URI', value: 'http://$(POD).svc/$(Q_MODE)' },
        { name: 'OPT', valueFrom: { secretKeyRef: { name: 'absent', key: 'x', optional: true } } },
      ],
    };
    const env = await resolveEnv(pod, container, sources, {});
    expect(Object.fromEntries(env)).to.deep.equal({ Q_MODE: 'cluster', POD: 'qdrant-0', KEY: 's3cret', URI: 'http://qdrant-0.svc/cluster' });
    const bad = { env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'nope' } } }] };
    let err: unknown;
    await resolveEnv(pod, bad, sources, {}).catch((e) => (err = e));
    expect(err).to.be.instanceOf(ConfigError);
    expect((err as Error).message).to.equal('key "nope" not found in configmap "cfg"');
  });

  it('parses resource quantities', () => {
    expect(parseQuantity('500m')).to.equal(0.5);
    expect(parseQuantity('1Gi')).to.equal(1073741824);
    expect(parseQuantity('2k')).to.equal(2000);
    expect(() => parseQuantity('ten')).to.throw(ConfigError);
  });
});

describe('kubelet stand-in: mount paths', () => {
  const maps = [
    { containerPath: '/qdrant/storage', hostPath: '/h/pv-1' },
    { containerPath: '/qdrant', hostPath: '/h/root' },
    { containerPath: '/dev/termination-log', hostPath: '/h/pod/term' },
  ];

  it('rewrites whole paths, longest mount first, leaving look-alikes alone', () => {
    expect(mapPaths('--storage /qdrant/storage', maps)).to.equal('--storage /h/pv-1');
    expect(mapPaths('--storage=/qdrant/storage/collections', maps)).to.equal('--storage=/h/pv-1/collections');
    // `/qdrant/storagex` is not the storage mount but lies under the `/qdrant` mount; `/qdrantx` is under neither.
    expect(mapPaths('/qdrant/storagex /qdrantx /opt/qdrant', maps)).to.equal('/h/root/storagex /qdrantx /opt/qdrant');
    expect(mapPaths('cat /qdrant/config/a.yaml >"/dev/termination-log"', maps)).to.equal('cat /h/root/config/a.yaml >"/h/pod/term"');
  });

  it('resolves a container path through the deepest mount', () => {
    expect(resolveContainerPath('/qdrant/storage/raft_state.json', maps)).to.equal('/h/pv-1/raft_state.json');
    expect(resolveContainerPath('/etc/passwd', maps)).to.equal(undefined);
  });
});

describe('kubelet stand-in: logs', () => {
  const t0 = Date.parse('2026-01-02T03:04:05.000Z');
  const lines: LogLine[] = [0, 1000, 2000, 3000].map((d, i) => ({
    time: formatTime(t0 + d),
    ms: t0 + d,
    stream: i % 2 ? 'stderr' : 'stdout',
    text: `line ${i}`,
  }));
  const file = lines.map(formatLine).join('');

  it('round-trips the CRI line format', () => {
    expect(file.split('\n')[0]).to.equal('2026-01-02T03:04:05.000000000Z stdout F line 0');
    expect(parseLog(file + 'garbage\n')).to.deep.equal(lines);
  });

  it('applies since before tail, as the kubelet does', () => {
    expect(selectLines(lines, { sinceMs: t0 + 1500 }).map((l) => l.text)).to.deep.equal(['line 2', 'line 3']);
    expect(selectLines(lines, { tailLines: 1 }).map((l) => l.text)).to.deep.equal(['line 3']);
    expect(selectLines(lines, { sinceMs: t0 + 500, tailLines: 2 }).map((l) => l.text)).to.deep.equal(['line 2', 'line 3']);
    expect(selectLines(lines, { tailLines: 0 })).to.deep.equal([]);
  });

  it('keeps the last 80 lines and 2048 bytes for FallbackToLogsOnError', () => {
    const many: LogLine[] = Array.from({ length: 100 }, (_, i) => ({ time: formatTime(t0), ms: t0, stream: 'stdout', text: `l${i}` }));
    const msg = fallbackMessage(many);
    expect(msg.split('\n')).to.have.length(80);
    expect(msg.startsWith('l20\n')).to.equal(true);
    const big: LogLine[] = [{ time: formatTime(t0), ms: t0, stream: 'stdout', text: 'x'.repeat(5000) }];
    expect(Buffer.byteLength(fallbackMessage(big))).to.equal(2048);
  });

  it('parses the log query the apiserver forwards', () => {
    const now = t0 + 10_000;
    expect(parseLogParams(new URLSearchParams('follow=true&tailLines=5&timestamps=true&sinceSeconds=3'), now)).to.deep.equal({
      follow: true,
      previous: false,
      timestamps: true,
      sinceMs: t0 + 7000,
      tailLines: 5,
    });
    expect(parseLogParams(new URLSearchParams('sinceTime=2026-01-02T03:04:06Z&limitBytes=10&previous=true'), now)).to.deep.include({
      sinceMs: t0 + 1000,
      limitBytes: 10,
      previous: true,
    });
    expect(parseLogParams(new URLSearchParams('tailLines=x'))).to.deep.equal({ error: 'tailLines=x is not an integer' });
  });
});

describe('kubelet stand-in: pod network', () => {
  it('hands out unique loopback addresses and does not reuse a released one at once', () => {
    const ipam = new PodIpAllocator();
    const a = ipam.allocate();
    const b = ipam.allocate();
    expect([a, b]).to.deep.equal(['127.1.0.1', '127.1.0.2']);
    ipam.release(a);
    expect(ipam.allocate()).to.equal('127.1.0.3');
    expect(ipam.inUse).to.equal(2);
  });

  it('names a StatefulSet pod by hostname, subdomain, namespace and cluster domain', () => {
    expect(podHostnames({ name: 'qdrant-1', namespace: 'db', hostname: 'qdrant-1', subdomain: 'qdrant-headless' })).to.deep.equal([
      'qdrant-1',
      'qdrant-1.qdrant-headless',
      'qdrant-1.qdrant-headless.db',
      'qdrant-1.qdrant-headless.db.svc',
      'qdrant-1.qdrant-headless.db.svc.cluster.local',
    ]);
    expect(podHostnames({ name: 'solo', namespace: 'db' })).to.deep.equal(['solo']);
  });
});
