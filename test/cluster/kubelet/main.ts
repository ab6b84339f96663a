// The kubelet stand-in (test code): registers nodes, runs the pods bound to them as local processes, serves their
// logs, and provisions folder-backed volumes. Started by test/cluster/up.sh; see test/cluster/README.md.
//   node --import tsx test/cluster/kubelet/main.ts --kubeconfig F --nodes a,b --kubelet-port-base P \
//     --serving-cert F --serving-key F --client-ca F --state-dir D --volumes-dir D [--snapshots-dir D] --repo D
//     [--host-ip 127.0.0.1] [--pod-ip-octet 1]   (pod IPs 127.<octet>.x.y)
import fs from 'node:fs';
import type https from 'node:https';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Api } from './api.js';
import { PodIpAllocator, ResolveFile } from './network.js';
import { CAPACITY, NodeAgent } from './nodes.js';
import { PodManager } from './pods.js';
import type { WorkerDeps } from './pod-worker.js';
import { FolderProvisioner } from './provisioner.js';
import { FolderSnapshotter } from './snapshotter.js';
import { startKubeletServer } from './server.js';

const { values: a } = parseArgs({
  options: {
    kubeconfig: { type: 'string' },
    nodes: { type: 'string', default: 'node-a,node-b,node-c' },
    'kubelet-port-base': { type: 'string', default: '26450' },
    'serving-cert': { type: 'string' },
    'serving-key': { type: 'string' },
    'client-ca': { type: 'string' },
    'state-dir': { type: 'string' },
    'volumes-dir': { type: 'string' },
    'snapshots-dir': { type: 'string' },
    repo: { type: 'string' },
    'host-ip': { type: 'string', default: '127.0.0.1' },
    'pod-ip-octet': { type: 'string', default: '1' },
  },
});

function required(name: keyof typeof a): string {
  const v = a[name];
  if (!v) {
    console.error(`kubelet stand-in: --${name} is required`);
    process.exit(2);
  }
  return v;
}

const log = (msg: string) => console.log(`${new Date().toISOString()} ${msg}`);

async function main(): Promise<void> {
  const stateDir = path.resolve(required('state-dir'));
  const repo = path.resolve(required('repo'));
  const podsDir = path.join(stateDir, 'pods');
  const pgidDir = path.join(stateDir, 'pgids');
  fs.mkdirSync(podsDir, { recursive: true });
  fs.mkdirSync(pgidDir, { recursive: true });
  const api = await Api.fromKubeconfig(required('kubeconfig'));
  const ipam = new PodIpAllocator(Number(a['pod-ip-octet']));
  const resolve = new ResolveFile(path.join(stateDir, 'resolve.json'), path.join(stateDir, 'hosts'));
  const tsxImport = import.meta.resolve('tsx');
  const hostIP = a['host-ip']!;
  const cert = fs.readFileSync(required('serving-cert'), 'utf8');
  const key = fs.readFileSync(required('serving-key'), 'utf8');
  const clientCa = fs.readFileSync(required('client-ca'), 'utf8');
  const names = a.nodes!.split(',').map((s) => s.trim()).filter(Boolean);
  const portBase = Number(a['kubelet-port-base']);

  const stop = new AbortController();
  const deps = new Map<string, WorkerDeps>();
  const agents: NodeAgent[] = [];
  const servers: https.Server[] = [];
  const pods = new PodManager(api, deps, log);
  names.forEach((name, i) => {
    deps.set(name, {
      api,
      node: { name, hostIP, allocatable: CAPACITY },
      ipam,
      resolve,
      podsDir,
      pgidDir,
      repo,
      tsxImport,
      log,
      envOverridesFile: path.join(stateDir, 'env-overrides.json'),
    });
    agents.push(new NodeAgent(api, { name, kubeletPort: portBase + i, hostIP, zone: `zone-${String.fromCharCode(97 + (i % 26))}` }, log));
  });

  let shuttingDown = false;
  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log(`${signal}: stopping pods and exiting`);
    stop.abort();
    for (const s of servers) s.close();
    await Promise.race([pods.shutdown(5), new Promise((r) => setTimeout(r, 12_000))]);
    api.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  for (const agent of agents) {
    servers.push(
      await startKubeletServer({
        nodeName: agent.spec.name,
        port: agent.spec.kubeletPort,
        host: hostIP,
        cert,
        key,
        clientCa,
        logs: pods,
        log,
      }),
    );
  }
  const provisioner = new FolderProvisioner(api, path.resolve(required('volumes-dir')), log);
  void provisioner.run(stop.signal);
  const snapshotsDir = a['snapshots-dir'] ?? path.join(path.dirname(path.resolve(required('volumes-dir'))), 'snapshots');
  void new FolderSnapshotter(api, path.resolve(snapshotsDir), log).run(stop.signal);
  for (const agent of agents) await agent.register();
  void pods.run(stop.signal);
  for (const agent of agents) void agent.run(stop.signal);
  log(`kubelet stand-in ready: nodes ${names.join(', ')}; pods in ${podsDir}; resolve file ${resolve.file}`);
}

main().catch((err) => {
  console.error(`kubelet stand-in failed: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
