// A folder snapshotter standing in for the CSI snapshot controller + sidecar, for VolumeSnapshotClasses whose driver
// is the folder provisioner: a VolumeSnapshot of a bound PVC copies the PV's folder to <snapshots>/<content name>,
// creates the bound VolumeSnapshotContent and marks both readyToUse. Deleting the VolumeSnapshot deletes the content
// and the copy when the deletion policy is Delete. No restore (PVC dataSource) and no finalizers.
import fs from 'node:fs';
import path from 'node:path';
import { Api, isStatus } from './api.js';
import { Informer } from './informer.js';
import { PROVISIONER } from './provisioner.js';
import { kubeTime, sleep, type Logger } from './util.js';

const GROUP = '/apis/snapshot.storage.k8s.io/v1';
const RETRIES = 30;

function folderBytes(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += folderBytes(p);
    else if (e.isFile()) total += fs.statSync(p).size;
  }
  return total;
}

export class FolderSnapshotter {
  private readonly busy = new Set<string>();

  constructor(
    private readonly api: Api,
    readonly snapshotsDir: string,
    private readonly log: Logger,
  ) {
    fs.mkdirSync(snapshotsDir, { recursive: true });
  }

  async run(signal: AbortSignal): Promise<void> {
    // The CRDs are installed by up.sh just before the stand-in starts; wait (bounded) until they serve.
    for (let i = 0; i < 60 && !signal.aborted; i++) {
      try {
        await this.api.get(`${GROUP}/volumesnapshots`, { limit: 1 });
        break;
      } catch {
        await sleep(1000, signal);
      }
    }
    const informer = new Informer(
      this.api,
      `${GROUP}/volumesnapshots`,
      { upsert: (vs) => this.onSnapshot(vs, signal), remove: (vs) => void this.onDeleted(vs) },
      this.log,
    );
    await informer.run(signal);
  }

  private async snapshotClass(name: string | undefined): Promise<any | undefined> {
    if (name) return this.api.getOptional(`${GROUP}/volumesnapshotclasses/${name}`);
    const all = await this.api.get(`${GROUP}/volumesnapshotclasses`);
    return (all.items ?? []).find(
      (c: any) => c.driver === PROVISIONER && c.metadata.annotations?.['snapshot.storage.kubernetes.io/is-default-class'] === 'true',
    );
  }

  private onSnapshot(vs: any, signal: AbortSignal): void {
    if (vs.status?.readyToUse || vs.metadata.deletionTimestamp || !vs.spec?.source?.persistentVolumeClaimName) return;
    const key = vs.metadata.uid;
    if (this.busy.has(key)) return;
    this.busy.add(key);
    void this.take(vs, signal).finally(() => this.busy.delete(key));
  }

  private async take(vs: any, signal: AbortSignal): Promise<void> {
    const ns = vs.metadata.namespace;
    const name = vs.metadata.name;
    const cls = await this.snapshotClass(vs.spec.volumeSnapshotClassName).catch(() => undefined);
    if (!cls || cls.driver !== PROVISIONER) return;
    const claim = vs.spec.source.persistentVolumeClaimName;
    for (let attempt = 0; attempt < RETRIES && !signal.aborted; attempt++) {
      const current = await this.api.getOptional(`${GROUP}/namespaces/${ns}/volumesnapshots/${name}`).catch(() => vs);
      if (!current || current.metadata.uid !== vs.metadata.uid || current.metadata.deletionTimestamp) return;
      try {
        const pvc = await this.api.getOptional(`/api/v1/namespaces/${ns}/persistentvolumeclaims/${claim}`);
        const pv = pvc?.spec?.volumeName ? await this.api.getOptional(`/api/v1/persistentvolumes/${pvc.spec.volumeName}`) : undefined;
        // The stand-in provisions hostPath volumes, the real node (test/cluster/node/provisioner.ts) local ones.
        const source: string | undefined = pv?.spec?.hostPath?.path ?? pv?.spec?.local?.path;
        if (!source || pvc.status?.phase !== 'Bound') throw new Error(`persistentvolumeclaim ${claim} is not bound to a folder volume`);
        const contentName = `snapcontent-${vs.metadata.uid}`;
        const copy = path.join(this.snapshotsDir, contentName);
        fs.rmSync(copy, { recursive: true, force: true });
        fs.cpSync(source, copy, { recursive: true, verbatimSymlinks: true });
        const bytes = folderBytes(copy);
        const now = Date.now();
        const content = {
          apiVersion: 'snapshot.storage.k8s.io/v1',
          kind: 'VolumeSnapshotContent',
          metadata: { name: contentName },
          spec: {
            deletionPolicy: cls.deletionPolicy ?? 'Delete',
            driver: PROVISIONER,
            source: { volumeHandle: pv.metadata.name },
            volumeSnapshotClassName: cls.metadata.name,
            volumeSnapshotRef: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshot', namespace: ns, name, uid: vs.metadata.uid },
          },
        };
        try {
          await this.api.request('POST', `${GROUP}/volumesnapshotcontents`, { body: content });
        } catch (err) {
          if (!isStatus(err, 409)) throw err;
        }
        await this.api.mergePatch(`${GROUP}/volumesnapshotcontents/${contentName}/status`, {
          status: { snapshotHandle: copy, readyToUse: true, creationTime: now * 1_000_000, restoreSize: bytes },
        });
        await this.api.mergePatch(`${GROUP}/namespaces/${ns}/volumesnapshots/${name}/status`, {
          status: { boundVolumeSnapshotContentName: contentName, readyToUse: true, creationTime: kubeTime(now), restoreSize: String(bytes), error: null },
        });
        this.log(`snapshotter: ${ns}/${name} of ${claim} -> ${copy} (${bytes} bytes)`);
        return;
      } catch (err) {
        const message = (err as Error).message;
        await this.api
          .mergePatch(`${GROUP}/namespaces/${ns}/volumesnapshots/${name}/status`, { status: { readyToUse: false, error: { message, time: kubeTime() } } })
          .catch(() => undefined);
        await sleep(2000, signal);
      }
    }
  }

  private async onDeleted(vs: any): Promise<void> {
    const contentName = vs.status?.boundVolumeSnapshotContentName ?? `snapcontent-${vs.metadata.uid}`;
    const content = await this.api.getOptional(`${GROUP}/volumesnapshotcontents/${contentName}`).catch(() => undefined);
    if (!content || content.spec?.driver !== PROVISIONER || content.spec?.deletionPolicy !== 'Delete') return;
    const copy = path.join(this.snapshotsDir, contentName);
    fs.rmSync(copy, { recursive: true, force: true });
    await this.api.request('DELETE', `${GROUP}/volumesnapshotcontents/${contentName}`).catch(() => undefined);
    this.log(`snapshotter: ${vs.metadata.namespace}/${vs.metadata.name} deleted with its content`);
  }
}
