// Field-by-field comparison of two rendered Kubernetes objects, for the official-chart parity test. Lists are
// matched by their natural key where Kubernetes has one (containers, env, ports, volumes by name; volume mounts by
// mount path), so a reordered list is not a difference and a changed item names itself in the path.

export type Difference = { path: string; ours: unknown; official: unknown };

const KEYED: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  env: 'name',
  ports: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  volumeClaimTemplates: 'metadata.name',
};

function keyOf(item: unknown, keyPath: string): string | undefined {
  let node: unknown = item;
  for (const part of keyPath.split('.')) {
    if (!node || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return typeof node === 'string' ? node : undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Absent, null, {} and [] are one value to the API server (an unset field). */
function unset(v: unknown): boolean {
  return v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0);
}

/** Every leaf where `ours` and `official` differ; unset values (see `unset`) count as the same. */
export function diffObjects(ours: unknown, official: unknown, path = ''): Difference[] {
  if (unset(ours) && unset(official)) return [];
  if (isObject(ours) && isObject(official)) {
    const keys = [...new Set([...Object.keys(ours), ...Object.keys(official)])].sort();
    return keys.flatMap((k) => diffObjects(ours[k], official[k], path ? `${path}.${k}` : k));
  }
  // A list on one side only is compared item by item with an empty one, so each item names itself.
  if (Array.isArray(ours) !== Array.isArray(official) && (unset(ours) || unset(official))) {
    return diffObjects(Array.isArray(ours) ? ours : [], Array.isArray(official) ? official : [], path);
  }
  if (Array.isArray(ours) && Array.isArray(official)) {
    const field = path.split('.').pop()!;
    const keyPath = KEYED[field];
    const keyed = keyPath && [...ours, ...official].every((i) => keyOf(i, keyPath) !== undefined);
    if (keyed) {
      const byKey = (list: unknown[]) => new Map(list.map((i) => [keyOf(i, keyPath)!, i]));
      const a = byKey(ours);
      const b = byKey(official);
      const keys = [...new Set([...a.keys(), ...b.keys()])];
      return keys.flatMap((k) => diffObjects(a.get(k), b.get(k), `${path}[${k}]`));
    }
    const n = Math.max(ours.length, official.length);
    return Array.from({ length: n }, (_, i) => diffObjects(ours[i], official[i], `${path}[${i}]`)).flat();
  }
  return JSON.stringify(ours) === JSON.stringify(official) ? [] : [{ path, ours, official }];
}
