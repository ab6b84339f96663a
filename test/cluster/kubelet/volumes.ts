// Pod volumes as host folders. ConfigMap, Secret, downwardAPI and projected volumes are written once when the pod
// starts (no live update; see README); emptyDir is a fresh folder under the pod's folder; a PVC resolves to the folder
// of its bound PV (hostPath or local), which outlives the pod; hostPath is used as is.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, fieldPathValue, resourceFieldValue } from './env.js';

/** The volume cannot be set up yet (unbound PVC, missing ConfigMap); the worker retries, as the kubelet does. */
export class VolumeNotReady extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VolumeNotReady';
  }
}

export interface VolumeSources {
  configMap(namespace: string, name: string): Promise<any | undefined>;
  secret(namespace: string, name: string): Promise<any | undefined>;
  pvc(namespace: string, name: string): Promise<any | undefined>;
  pv(name: string): Promise<any | undefined>;
  /** A TokenRequest for the pod's service account, bound to the pod. */
  token(pod: any, audience: string | undefined, expirationSeconds: number): Promise<string>;
  /** Node allocatable, for resourceFieldRef items of containers without limits. */
  allocatable: Record<string, string>;
}

function writeFile(dir: string, rel: string, content: Buffer | string, mode: number): void {
  const target = path.resolve(dir, rel);
  if (!target.startsWith(path.resolve(dir) + path.sep)) throw new ConfigError(`volume item path ${rel} escapes the volume`);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.writeFileSync(target, content, { mode });
  fs.chmodSync(target, mode);
}

type KeyedData = Map<string, Buffer>;

function keyed(obj: any, base64: boolean): KeyedData {
  const out: KeyedData = new Map();
  for (const [k, v] of Object.entries<string>(obj?.data ?? {})) out.set(k, base64 ? Buffer.from(v, 'base64') : Buffer.from(v, 'utf8'));
  for (const [k, v] of Object.entries<string>(obj?.binaryData ?? {})) out.set(k, Buffer.from(v, 'base64'));
  return out;
}

/** Writes a ConfigMap's or Secret's keys (or the listed items) into `dir`. */
function writeKeyed(dir: string, what: string, data: KeyedData, items: any[] | undefined, defaultMode: number, optional: boolean): void {
  if (!items || items.length === 0) {
    for (const [k, v] of data) writeFile(dir, k, v, defaultMode);
    return;
  }
  for (const item of items) {
    const v = data.get(item.key);
    if (v === undefined) {
      if (optional) continue;
      throw new VolumeNotReady(`key "${item.key}" not found in ${what}`);
    }
    writeFile(dir, item.path, v, item.mode ?? defaultMode);
  }
}

function writeDownward(dir: string, pod: any, items: any[], defaultMode: number, allocatable: Record<string, string>): void {
  for (const item of items ?? []) {
    let value: string;
    if (item.fieldRef) value = fieldPathValue(pod, item.fieldRef.fieldPath);
    else if (item.resourceFieldRef) {
      const c = [...(pod.spec.containers ?? []), ...(pod.spec.initContainers ?? [])].find((x: any) => x.name === item.resourceFieldRef.containerName) ?? {};
      value = resourceFieldValue(c, item.resourceFieldRef, allocatable);
    } else throw new ConfigError(`downwardAPI item ${item.path}: neither fieldRef nor resourceFieldRef`);
    writeFile(dir, item.path, value, item.mode ?? defaultMode);
  }
}

async function configMapOrWait(src: VolumeSources, ns: string, name: string, optional: boolean): Promise<any | undefined> {
  const cm = await src.configMap(ns, name);
  if (!cm && !optional) throw new VolumeNotReady(`configmap "${name}" not found`);
  return cm;
}

async function secretOrWait(src: VolumeSources, ns: string, name: string, optional: boolean): Promise<any | undefined> {
  const s = await src.secret(ns, name);
  if (!s && !optional) throw new VolumeNotReady(`secret "${name}" not found`);
  return s;
}

/** Folder of the PV bound to a PVC; VolumeNotReady while the claim is not Bound. */
export async function pvcFolder(src: VolumeSources, ns: string, claimName: string): Promise<string> {
  const pvc = await src.pvc(ns, claimName);
  if (!pvc) throw new VolumeNotReady(`persistentvolumeclaim "${claimName}" not found`);
  if (pvc.status?.phase !== 'Bound' || !pvc.spec?.volumeName) throw new VolumeNotReady(`persistentvolumeclaim "${claimName}" is not bound`);
  const pv = await src.pv(pvc.spec.volumeName);
  const folder: string | undefined = pv?.spec?.hostPath?.path ?? pv?.spec?.local?.path;
  if (!folder) throw new ConfigError(`persistentvolume ${pvc.spec.volumeName} has no hostPath or local path`);
  fs.mkdirSync(folder, { recursive: true });
  return folder;
}

/**
 * Sets up every volume of the pod below `podDir/volumes` (PVCs and hostPath excepted) and returns name -> folder.
 * Idempotent for the folders it writes: a retry after VolumeNotReady starts over.
 */
export async function materializeVolumes(pod: any, podDir: string, src: VolumeSources): Promise<Map<string, string>> {
  const ns: string = pod.metadata.namespace;
  const out = new Map<string, string>();
  for (const vol of pod.spec.volumes ?? []) {
    const dir = path.join(podDir, 'volumes', vol.name);
    if (vol.persistentVolumeClaim) {
      out.set(vol.name, await pvcFolder(src, ns, vol.persistentVolumeClaim.claimName));
      continue;
    }
    if (vol.ephemeral) {
      // The ephemeral-volume controller creates the claim `<pod>-<volume>`.
      out.set(vol.name, await pvcFolder(src, ns, `${pod.metadata.name}-${vol.name}`));
      continue;
    }
    if (vol.hostPath) {
      if (vol.hostPath.type === 'DirectoryOrCreate' || !fs.existsSync(vol.hostPath.path)) fs.mkdirSync(vol.hostPath.path, { recursive: true });
      out.set(vol.name, vol.hostPath.path);
      continue;
    }
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    out.set(vol.name, dir);
    if (vol.emptyDir) continue;
    if (vol.configMap) {
      const cm = await configMapOrWait(src, ns, vol.configMap.name, !!vol.configMap.optional);
      if (cm) writeKeyed(dir, `configmap "${vol.configMap.name}"`, keyed(cm, false), vol.configMap.items, vol.configMap.defaultMode ?? 0o644, !!vol.configMap.optional);
    } else if (vol.secret) {
      const s = await secretOrWait(src, ns, vol.secret.secretName, !!vol.secret.optional);
      if (s) writeKeyed(dir, `secret "${vol.secret.secretName}"`, keyed(s, true), vol.secret.items, vol.secret.defaultMode ?? 0o644, !!vol.secret.optional);
    } else if (vol.downwardAPI) {
      writeDownward(dir, pod, vol.downwardAPI.items, vol.downwardAPI.defaultMode ?? 0o644, src.allocatable);
    } else if (vol.projected) {
      const mode = vol.projected.defaultMode ?? 0o644;
      for (const source of vol.projected.sources ?? []) {
        if (source.configMap) {
          const cm = await configMapOrWait(src, ns, source.configMap.name, !!source.configMap.optional);
          if (cm) writeKeyed(dir, `configmap "${source.configMap.name}"`, keyed(cm, false), source.configMap.items, mode, !!source.configMap.optional);
        } else if (source.secret) {
          const s = await secretOrWait(src, ns, source.secret.name, !!source.secret.optional);
          if (s) writeKeyed(dir, `secret "${source.secret.name}"`, keyed(s, true), source.secret.items, mode, !!source.secret.optional);
        } else if (source.downwardAPI) {
          writeDownward(dir, pod, source.downwardAPI.items, mode, src.allocatable);
        } else if (source.serviceAccountToken) {
          const t = source.serviceAccountToken;
          const token = await src.token(pod, t.audience, t.expirationSeconds ?? 3607);
          writeFile(dir, t.path, token, mode);
        } else {
          throw new ConfigError(`projected volume ${vol.name}: unsupported source ${Object.keys(source).join(',')}`);
        }
      }
    } else {
      const kind = Object.keys(vol).filter((k) => k !== 'name').join(',');
      throw new ConfigError(`volume ${vol.name}: type ${kind} is not supported by the kubelet stand-in`);
    }
  }
  return out;
}
