// The official Qdrant chart 1.19.0 as the tests see it (vendored under test/fixtures/official-chart): where it is,
// the values both charts render in test/chart/official-parity.test.ts, and the list of its keys.
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { RenderOptions, repoRoot } from './helm.js';

export const OFFICIAL = 'test/fixtures/official-chart/qdrant-1.19.0';
export const SNAPSHOT = '/qdrant/snapshot-restoration/test_collection/test_collection-2022-10-24-13-56-50.snapshot:test_collection';

export const PARITY_CASES: { name: string; options: RenderOptions }[] = [
  { name: 'the official values.yaml', options: { files: [`${OFFICIAL}/values.yaml`] } },
  { name: 'snapshot-persistence-values.yaml', options: { files: ['test/fixtures/official-chart/test-values/snapshot-persistence-values.yaml'] } },
  { name: 'snapshot-values.yaml', options: { files: ['test/fixtures/official-chart/test-values/snapshot-values.yaml'] } },
  {
    name: 'snapshot-values.yaml with a snapshot to restore',
    options: {
      files: ['test/fixtures/official-chart/test-values/snapshot-values.yaml'],
      values: { snapshotRestoration: { mountPath: '/restore', snapshots: [SNAPSHOT.replace('/qdrant/snapshot-restoration', '/restore')] } },
    },
  },
  { name: 'tls-p2p-values.yaml', options: { files: ['test/fixtures/official-chart/test-values/tls-p2p-values.yaml'] } },
  { name: 'cluster mode off', options: { values: { config: { cluster: { enabled: false } } } } },
  { name: 'security contexts set to false', options: { values: { podSecurityContext: false, containerSecurityContext: false } } },
  { name: 'tls-values.yaml', options: { files: ['test/fixtures/official-chart/test-values/tls-values.yaml'] } },
  { name: 'official keys away from their defaults', options: { files: ['test/chart/fixtures/official-parity/keys-values.yaml'] } },
  { name: 'the objects around Qdrant configured', options: { files: ['test/chart/fixtures/official-parity/objects-values.yaml'] } },
  {
    name: 'a read-only API key and a gRPC-checked port',
    options: {
      values: {
        readOnlyApiKey: 'ro-key',
        readinessProbe: { enabled: true },
        service: {
          ports: [
            { name: 'http', port: 6333, targetPort: 6333, protocol: 'TCP', checksEnabled: false },
            { name: 'grpc', port: 6334, targetPort: 6334, protocol: 'TCP', checksEnabled: true },
            { name: 'p2p', port: 6335, targetPort: 6335, protocol: 'TCP', checksEnabled: false },
          ],
        },
      },
    },
  },
];

/** Objects whose insides are Kubernetes' or Qdrant's: one key each. */
const WHOLE = ['config', 'lifecycle', 'resources', 'podSecurityContext', 'containerSecurityContext', 'affinity', 'nodeSelector', 'apiKey', 'readOnlyApiKey', 'chartTests.dbInteraction.resources'];

/** The official chart's defaults (its values.yaml). */
export function officialValues(): Record<string, unknown> {
  return parse(fs.readFileSync(path.join(repoRoot, OFFICIAL, 'values.yaml'), 'utf8')) as Record<string, unknown>;
}

/**
 * Every key of the official chart: the leaves of its values.yaml (a list is one key; WHOLE objects are one key) and
 * every `.Values` path its templates read that values.yaml leaves out (commented-out keys such as apiKey).
 */
export function officialKeys(): string[] {
  const keys = new Set<string>();
  const walk = (v: unknown, p: string) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0 && !WHOLE.includes(p)) {
      for (const [k, x] of Object.entries(v)) walk(x, p ? `${p}.${k}` : k);
    } else keys.add(p);
  };
  walk(officialValues(), '');
  const templates = path.join(repoRoot, OFFICIAL, 'templates');
  const files = fs.readdirSync(templates, { recursive: true, withFileTypes: true }).filter((d) => d.isFile());
  for (const f of files) {
    const text = fs.readFileSync(path.join(f.parentPath ?? f.path, f.name), 'utf8');
    for (const m of text.matchAll(/(?:\.Values|\$values)((?:\.[A-Za-z0-9_]+)+)/g)) {
      const ref = m[1]!.slice(1);
      const known = [...keys].some((k) => ref === k || ref.startsWith(`${k}.`) || k.startsWith(`${ref}.`));
      const inWhole = WHOLE.some((w) => ref.startsWith(`${w}.`));
      if (!known && !inWhole) keys.add(ref);
    }
  }
  return [...keys].sort();
}

/** The values a parity case renders with: its files, then its inline values, merged as Helm merges them. */
export function caseValues(options: RenderOptions): Record<string, unknown> {
  const merge = (a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> => {
    const out = { ...a };
    for (const [k, v] of Object.entries(b)) {
      const cur = out[k];
      out[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur) ? merge(cur as Record<string, unknown>, v as Record<string, unknown>) : v;
    }
    return out;
  };
  let values: Record<string, unknown> = {};
  for (const f of options.files ?? []) values = merge(values, (parse(fs.readFileSync(path.join(repoRoot, f), 'utf8')) ?? {}) as Record<string, unknown>);
  return merge(values, options.values ?? {});
}

/** The value at a dotted key path, or undefined. */
export function valueAt(values: unknown, key: string): unknown {
  return key.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), values);
}
