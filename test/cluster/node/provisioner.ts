// The real node's volume provisioner (test code), serving the `standard` StorageClass of the e2e cluster
// (test/cluster/manifests/storageclass.yaml) when CLUSTER_NODE=real. For each pending claim of that class it makes a
// folder <volumes>/pvc-<claim uid>, owned by root with mode 0755 as a freshly formatted file system is, and a
// `local` PersistentVolume pinned to the node, pre-bound to the claim. The real kubelet bind-mounts it and applies
// the pod's fsGroup to it (the local volume plugin manages ownership; a hostPath volume, which the stand-in uses,
// is never touched), so Qdrant's uid and the chart's fsGroup meet real ownership. Released volumes of class
// reclaim policy Delete lose their folder and their object. The stand-in's folder snapshotter runs beside it for
// VolumeSnapshots of these claims.
//   node --import tsx test/cluster/node/provisioner.ts --kubeconfig F --volumes-dir D --snapshots-dir S --node N
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Api, isStatus } from '../kubelet/api.js';
import { Informer } from '../kubelet/informer.js';
import { PROVISIONER } from '../kubelet/provisioner.js';
import { FolderSnapshotter } from '../kubelet/snapshotter.js';

type Logger = (msg: string) => void;

/** The PersistentVolume for a claim: a `local` volume on `node`, bound to the claim. Pure, for the tests. */
export function localVolume(pvc: any, sc: any, node: string, folder: string): any {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: `pvc-${pvc.metadata.uid}`, annotations: { 'pv.kubernetes.io/provisioned-by': PROVISIONER } },
    spec: {
      capacity: { storage: pvc.spec.resources?.requests?.storage ?? '1Gi' },
      accessModes: pvc.spec.accessModes?.length ? pvc.spec.accessModes : ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: sc.reclaimPolicy ?? 'Delete',
      storageClassName: sc.metadata.name,
      volumeMode: pvc.spec.volumeMode ?? 'Filesystem',
      local: { path: folder },
      nodeAffinity: {
        required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] }] },
      },
      claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: pvc.metadata.namespace, name: pvc.metadata.name, uid: pvc.metadata.uid },
    },
  };
}

export class LocalProvisioner {
  private readonly classes = new Map<string, any | null>();
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly api: Api,
    readonly volumesDir: string,
    readonly node: string,
    private readonly log: Logger,
  ) {
    fs.mkdirSync(volumesDir, { recursive: true });
  }

  async run(signal: AbortSignal): Promise<void> {
    const pvcs = new Informer(this.api, '/api/v1/persistentvolumeclaims', { upsert: (o) => this.onClaim(o), remove: () => {} }, this.log);
    const pvs = new Informer(this.api, '/api/v1/persistentvolumes', { upsert: (o) => this.onVolume(o), remove: () => {} }, this.log);
    await Promise.all([pvcs.run(signal), pvs.run(signal)]);
  }

  private async storageClass(name: string): Promise<any | undefined> {
    if (!this.classes.has(name)) this.classes.set(name, (await this.api.getOptional(`/apis/storage.k8s.io/v1/storageclasses/${name}`)) ?? null);
    return this.classes.get(name) ?? undefined;
  }

  private once(key: string, fn: () => Promise<void>): void {
    if (this.inFlight.has(key)) return;
    this.inFlight.add(key);
    fn()
      .catch((err) => this.log(`provisioner: ${key}: ${(err as Error).message}`))
      .finally(() => this.inFlight.delete(key));
  }

  private onClaim(pvc: any): void {
    if (pvc.spec.volumeName || pvc.metadata.deletionTimestamp || pvc.status?.phase === 'Bound' || !pvc.spec.storageClassName) return;
    this.once(`pvc/${pvc.metadata.uid}`, async () => {
      const sc = await this.storageClass(pvc.spec.storageClassName);
      if (!sc || sc.provisioner !== PROVISIONER) return;
      if (pvc.spec.dataSource || pvc.spec.dataSourceRef) {
        this.log(`provisioner: ${pvc.metadata.namespace}/${pvc.metadata.name}: data sources are not supported; provisioning an empty volume`);
      }
      const folder = path.join(this.volumesDir, `pvc-${pvc.metadata.uid}`);
      fs.mkdirSync(folder, { recursive: true });
      fs.chownSync(folder, 0, 0);
      fs.chmodSync(folder, 0o755);
      try {
        await this.api.request('POST', '/api/v1/persistentvolumes', { body: localVolume(pvc, sc, this.node, folder) });
        this.log(`provisioner: ${pvc.metadata.namespace}/${pvc.metadata.name} -> local ${folder} on ${this.node}`);
      } catch (err) {
        if (!isStatus(err, 409)) throw err;
      }
    });
  }

  private onVolume(pv: any): void {
    if (pv.metadata.annotations?.['pv.kubernetes.io/provisioned-by'] !== PROVISIONER) return;
    if (pv.status?.phase !== 'Released' || pv.spec.persistentVolumeReclaimPolicy !== 'Delete' || pv.metadata.deletionTimestamp) return;
    this.once(`pv/${pv.metadata.name}`, async () => {
      const folder: string | undefined = pv.spec.local?.path;
      // Never delete outside the volumes folder, whatever a PV says.
      if (folder && path.resolve(folder).startsWith(path.resolve(this.volumesDir) + path.sep)) fs.rmSync(folder, { recursive: true, force: true });
      try {
        await this.api.request('DELETE', `/api/v1/persistentvolumes/${pv.metadata.name}`);
        this.log(`provisioner: released ${pv.metadata.name} deleted`);
      } catch (err) {
        if (!isStatus(err, 404)) throw err;
      }
    });
  }
}

async function main(): Promise<void> {
  const { values: a } = parseArgs({
    options: {
      kubeconfig: { type: 'string' },
      'volumes-dir': { type: 'string' },
      'snapshots-dir': { type: 'string' },
      node: { type: 'string' },
    },
  });
  for (const k of ['kubeconfig', 'volumes-dir', 'snapshots-dir', 'node'] as const) {
    if (!a[k]) {
      console.error(`node provisioner: --${k} is required`);
      process.exit(2);
    }
  }
  const log: Logger = (msg) => console.log(`${new Date().toISOString()} ${msg}`);
  const api = await Api.fromKubeconfig(a.kubeconfig!);
  const stop = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      stop.abort();
      api.close();
      process.exit(0);
    });
  }
  void new LocalProvisioner(api, path.resolve(a['volumes-dir']!), a.node!, log).run(stop.signal);
  void new FolderSnapshotter(api, path.resolve(a['snapshots-dir']!), log).run(stop.signal);
  log(`node provisioner: local volumes for ${a.node} in ${a['volumes-dir']}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
