// Values: what must be refused is refused by Helm 3 and Helm 4 alike, each with the refusal the case names (Helm's
// own schema message per major; the chart's VALUES VALIDATION message, the same under both), every ci values file
// renders, and values.schema.json types every key of values.yaml.
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { chartDir, ciValuesFiles, HELMS, render, repoRoot } from './support/helm.js';

type Case =
  | { name: string; by: 'schema'; refusal: Record<'helm3' | 'helm4', string[]>; values: Record<string, unknown> }
  | { name: string; by: 'validate'; refusal: string[]; values: Record<string, unknown> };
const cases = parse(fs.readFileSync(path.join(repoRoot, 'test/chart/fixtures/rejected-values.yaml'), 'utf8')) as Case[];

type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  $ref?: string;
  oneOf?: Schema[];
  anyOf?: Schema[];
};
const schema = JSON.parse(fs.readFileSync(path.join(chartDir, 'values.schema.json'), 'utf8')) as Schema & {
  $defs: Record<string, Schema>;
};
const values = parse(fs.readFileSync(path.join(chartDir, 'values.yaml'), 'utf8')) as Record<string, unknown>;

function resolve(s: Schema): Schema {
  return s.$ref ? resolve(schema.$defs[s.$ref.replace('#/$defs/', '')]) : s;
}

/** The schema node that validates `keyPath` (undefined when no schema node names it). */
function schemaAt(keyPath: string[]): Schema | undefined {
  let node: Schema | undefined = schema;
  for (const key of keyPath) {
    if (!node) return undefined;
    const s: Schema = resolve(node);
    node = s.properties?.[key] ?? (typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined);
  }
  return node;
}

/** Every key path of values.yaml, objects included (arrays are leaves). */
function keyPaths(obj: Record<string, unknown>, prefix: string[] = []): string[][] {
  return Object.entries(obj).flatMap(([k, v]) => {
    const p = [...prefix, k];
    return v && typeof v === 'object' && !Array.isArray(v) ? [p, ...keyPaths(v as Record<string, unknown>, p)] : [p];
  });
}

// Objects whose shape is Kubernetes' or Qdrant's: the schema leaves their insides to them.
const OPEN = ['config', 'lifecycle', 'podSecurityContext', 'containerSecurityContext', 'resources', 'affinity', 'upgradeGuard.resources'];

describe('chart: values', () => {
  for (const c of cases) {
    it(`refuses ${c.name} with Helm 3 and Helm 4 (${c.by})`, () => {
      for (const helm of HELMS) {
        const r = render(helm, { values: c.values });
        expect(r.status, `${helm} exit code`).to.not.equal(0);
        // Our own message (templates/_validate.tpl) is the same whichever Helm renders it; a schema error is Helm's.
        const lines = c.by === 'validate' ? ['VALUES VALIDATION', ...c.refusal] : c.refusal[helm];
        expect(lines.length, 'a case names its refusal').to.be.greaterThan(0);
        for (const line of lines) expect(r.stderr, helm).to.include(line);
      }
    });
  }

  for (const file of ciValuesFiles()) {
    it(`accepts ${file} with Helm 3 and Helm 4`, () => {
      for (const helm of HELMS) expect(render(helm, { files: [file] }).status, helm).to.equal(0);
    });
  }

  it('types every key of values.yaml in values.schema.json', () => {
    const missing = keyPaths(values)
      .filter((p) => !OPEN.some((o) => p.join('.').startsWith(`${o}.`)))
      .filter((p) => schemaAt(p) === undefined)
      .map((p) => p.join('.'));
    expect(missing).to.deep.equal([]);
  });

  it("refuses unknown keys in every object whose shape is the chart's own", () => {
    const open = keyPaths(values)
      .filter((p) => {
        const v = p.reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], values);
        return v && typeof v === 'object' && !Array.isArray(v);
      })
      .map((p) => p.join('.'))
      .filter((p) => !OPEN.some((o) => p === o || p.startsWith(`${o}.`)))
      .filter((p) => {
        const s = resolve(schemaAt(p.split('.'))!);
        return s.properties !== undefined && s.additionalProperties !== false;
      });
    expect(open).to.deep.equal([]);
    expect(schema.additionalProperties).to.equal(false);
  });

  it('documents every key of values.yaml with a ## @param (or @extra) annotation', () => {
    const text = fs.readFileSync(path.join(chartDir, 'values.yaml'), 'utf8');
    const documented = new Set([...text.matchAll(/^\s*## @(?:param|extra) (\S+)/gm)].map((m) => m[1]));
    const leaves = keyPaths(values)
      .map((p) => p.join('.'))
      .filter((p) => !keyPaths(values).some((q) => q.join('.').startsWith(`${p}.`)));
    expect(leaves.filter((p) => !documented.has(p) && ![...documented].some((d) => p.startsWith(`${d}.`)))).to.deep.equal([]);
  });
});
