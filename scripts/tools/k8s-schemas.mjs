#!/usr/bin/env node
// Converts Kubernetes' OpenAPI v2 spec (api/openapi-spec/swagger.json of the k8s.io/kubernetes Go module) and CRD
// manifests into the per-kind JSON schemas kubeconform reads, fully offline.
//
//   node scripts/tools/k8s-schemas.mjs --swagger <swagger.json> --k8s-version 1.34.4 --out <dir> [--crd <file.yaml>]...
//
// Layout (kubeconform -schema-location templates):
//   <out>/v<ver>-standalone-strict/<kind><suffix>.json   {{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json
//   <out>/crds/<group>/<kind>_<version>.json              crds/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json
//
// "Strict" as kubeconform's published schemas are: every object that lists its properties gets
// additionalProperties: false, so an unknown or misplaced field fails. Each file is standalone: the definitions
// it reaches are copied under $defs (the graph has cycles, so they are referenced, not inlined).
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

function parseArgs(argv) {
  const args = { crd: [] };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`missing value for ${argv[i]}`);
    if (key === 'crd') args.crd.push(value);
    else args[key] = value;
  }
  for (const required of ['swagger', 'k8s-version', 'out']) {
    if (!args[required]) throw new Error(`--${required} is required`);
  }
  return args;
}

const INT_OR_STRING = { anyOf: [{ type: 'integer' }, { type: 'string' }] };
// A Quantity is a string in the spec, but YAML users write `cpu: 1` and the API server accepts it.
const QUANTITY = { anyOf: [{ type: 'string' }, { type: 'number' }] };

// kubeconform's file-name suffix for an apiVersion: "-v1", "-apps-v1", "-rbac-v1" (first label of the group).
function kindSuffix(group, version) {
  return group ? `-${group.split('.')[0].toLowerCase()}-${version.toLowerCase()}` : `-${version.toLowerCase()}`;
}

// Optional fields may be null in a manifest (the API server treats null as unset).
function nullable(schema) {
  if (schema.$ref || schema.anyOf || schema.oneOf || schema.allOf) return { anyOf: [schema, { type: 'null' }] };
  if (typeof schema.type === 'string') return { ...schema, type: [schema.type, 'null'] };
  return schema;
}

// Rewrites one schema node of swagger v2 / CRD OpenAPI v3 into JSON Schema with the strict rules above.
function convert(node, refPrefix, { crd = false } = {}) {
  if (Array.isArray(node)) return node.map((n) => convert(n, refPrefix, { crd }));
  if (node === null || typeof node !== 'object') return node;
  if (node.format === 'int-or-string' || node['x-kubernetes-int-or-string'] === true) {
    const { description } = node;
    return description ? { description, ...INT_OR_STRING } : { ...INT_OR_STRING };
  }
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$ref') out.$ref = value.replace('#/definitions/', refPrefix);
    else if (key === 'properties') {
      const required = new Set(node.required ?? []);
      out.properties = {};
      for (const [name, prop] of Object.entries(value)) {
        const converted = convert(prop, refPrefix, { crd });
        out.properties[name] = required.has(name) ? converted : nullable(converted);
      }
    } else if (key === 'nullable') {
      if (value === true && typeof node.type === 'string') out.type = [node.type, 'null'];
    } else if (key === 'type' && out.type) {
      // already widened by `nullable`
    } else if (key.startsWith('x-kubernetes-') || key === 'format') {
      // Kubernetes extensions and formats ("int32", "date-time", "byte") are not validated by JSON Schema here.
    } else if (typeof value === 'object' && value !== null) out[key] = convert(value, refPrefix, { crd });
    else out[key] = value;
  }
  const open = node['x-kubernetes-preserve-unknown-fields'] === true;
  if (out.properties && out.additionalProperties === undefined && !open) out.additionalProperties = false;
  return out;
}

function collectRefs(schema, defs, seen) {
  const stack = [schema];
  while (stack.length) {
    const node = stack.pop();
    if (Array.isArray(node)) { stack.push(...node); continue; }
    if (node === null || typeof node !== 'object') continue;
    if (typeof node.$ref === 'string') {
      const name = node.$ref.replace('#/$defs/', '');
      if (!seen.has(name)) { seen.add(name); stack.push(defs[name]); }
    }
    stack.push(...Object.values(node));
  }
  return seen;
}

function writeJson(file, data) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(data)}\n`);
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const swagger = JSON.parse(fs.readFileSync(args.swagger, 'utf8'));
  const defs = {};
  for (const [name, def] of Object.entries(swagger.definitions)) {
    if (name === 'io.k8s.apimachinery.pkg.util.intstr.IntOrString') defs[name] = { ...INT_OR_STRING };
    else if (name === 'io.k8s.apimachinery.pkg.api.resource.Quantity') defs[name] = { ...QUANTITY };
    else defs[name] = convert(def, '#/$defs/');
  }
  const builtinDir = path.join(args.out, `v${args['k8s-version']}-standalone-strict`);
  let kinds = 0;
  for (const [name, def] of Object.entries(swagger.definitions)) {
    for (const gvk of def['x-kubernetes-group-version-kind'] ?? []) {
      // List kinds and options share names across groups; only top-level kinds with metadata are manifests.
      if (!def.properties?.metadata && !def.properties?.apiVersion) continue;
      const used = collectRefs(defs[name], defs, new Set([name]));
      const schema = { ...defs[name], $defs: Object.fromEntries([...used].sort().map((n) => [n, defs[n]])) };
      // apiVersion and kind must be exactly this kind's.
      const apiVersion = gvk.group ? `${gvk.group}/${gvk.version}` : gvk.version;
      schema.properties = { ...schema.properties, apiVersion: { enum: [apiVersion] }, kind: { enum: [gvk.kind] } };
      writeJson(path.join(builtinDir, `${gvk.kind.toLowerCase()}${kindSuffix(gvk.group, gvk.version)}.json`), schema);
      kinds += 1;
    }
  }
  // CRDs: each served version's openAPIV3Schema, with metadata held to the real ObjectMeta.
  const objectMeta = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';
  let crdKinds = 0;
  for (const file of args.crd) {
    for (const doc of parseAllDocuments(fs.readFileSync(file, 'utf8'))) {
      const crd = doc.toJS();
      if (crd?.kind !== 'CustomResourceDefinition') continue;
      const { group, names } = crd.spec;
      for (const version of crd.spec.versions) {
        if (!version.served || !version.schema?.openAPIV3Schema) continue;
        const schema = convert(version.schema.openAPIV3Schema, '#/$defs/', { crd: true });
        const used = collectRefs({ $ref: `#/$defs/${objectMeta}` }, defs, new Set());
        schema.properties = {
          ...schema.properties,
          apiVersion: { enum: [`${group}/${version.name}`] },
          kind: { enum: [names.kind] },
          metadata: { $ref: `#/$defs/${objectMeta}` },
        };
        schema.additionalProperties = false;
        schema.$defs = Object.fromEntries([...used].sort().map((n) => [n, defs[n]]));
        writeJson(path.join(args.out, 'crds', group, `${names.kind.toLowerCase()}_${version.name}.json`), schema);
        crdKinds += 1;
      }
    }
  }
  console.log(`wrote ${kinds} Kubernetes ${args['k8s-version']} kind schemas and ${crdKinds} CRD kind schemas to ${args.out}`);
}

main();
