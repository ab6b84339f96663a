/**
 * A small OpenAPI 3.0 schema walker, enough to check the emulator's responses against Qdrant's
 * published specs (test/fixtures/qdrant-openapi/). Values must be parsed with lossless-json so
 * integers and floats stay distinguishable. Stricter than OpenAPI on one point: an object property
 * the schema does not declare is reported (the emulator must not invent field names).
 */
import fs from 'node:fs';
import { isLosslessNumber, parse } from 'lossless-json';

export interface Schema {
  $ref?: string;
  type?: string;
  format?: string;
  enum?: unknown[];
  nullable?: boolean;
  required?: string[];
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  oneOf?: Schema[];
  anyOf?: Schema[];
  allOf?: Schema[];
  minimum?: number;
  maximum?: number;
}

export interface OpenApiSpec {
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: Schema }> }> }>>;
  components: { schemas: Record<string, Schema> };
}

export function loadSpec(file: string): OpenApiSpec {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as OpenApiSpec;
}

/** The JSON schema of a 200 response of `method path`. */
export function responseSchema(spec: OpenApiSpec, path: string, method = 'get', status = '200'): Schema {
  const op = spec.paths[path]?.[method];
  const schema = op?.responses[status]?.content?.['application/json']?.schema;
  if (!schema) throw new Error(`no ${status} application/json schema for ${method.toUpperCase()} ${path}`);
  return schema;
}

const ANNOTATIONS = new Set(['description', 'default', 'example', 'nullable', 'title', 'deprecated']);

function isNullOnly(s: Schema): boolean {
  return s.nullable === true && Object.keys(s).every((k) => ANNOTATIONS.has(k));
}

function deref(spec: OpenApiSpec, s: Schema): Schema {
  let cur = s;
  for (let i = 0; i < 20 && cur.$ref; i++) {
    const name = cur.$ref.replace('#/components/schemas/', '');
    const target = spec.components.schemas[name];
    if (!target) throw new Error(`unresolved $ref ${cur.$ref}`);
    cur = { ...target, ...(s.nullable ? { nullable: true } : {}) };
  }
  return cur;
}

function numText(v: unknown): string | undefined {
  return isLosslessNumber(v) ? (v as { value: string }).value : undefined;
}

/** Returns the list of violations (empty = valid). */
export function validate(spec: OpenApiSpec, schema: Schema, value: unknown, at = '$'): string[] {
  const s = deref(spec, schema);
  if (value === null) {
    if (s.nullable || isNullOnly(s)) return [];
    if (s.anyOf?.some((b) => isNullOnly(b) || deref(spec, b).nullable)) return [];
    if (s.oneOf?.some((b) => isNullOnly(b) || deref(spec, b).nullable)) return [];
    return [`${at}: null is not allowed`];
  }
  if (isNullOnly(s)) return [`${at}: only null is allowed here`];
  if (s.allOf) {
    const errs = s.allOf.flatMap((b) => validate(spec, b, value, at));
    if (errs.length > 0) return errs;
  }
  if (s.oneOf) {
    const results = s.oneOf.map((b) => validate(spec, b, value, at));
    const ok = results.filter((r) => r.length === 0).length;
    if (ok !== 1) return [`${at}: matches ${ok} of the oneOf branches (${results.map((r) => r[0] ?? 'ok').join(' | ')})`];
  }
  if (s.anyOf) {
    const results = s.anyOf.map((b) => validate(spec, b, value, at));
    if (!results.some((r) => r.length === 0)) return [`${at}: matches no anyOf branch (${results.map((r) => r[0]).join(' | ')})`];
  }
  const type = s.type ?? (s.properties || s.additionalProperties !== undefined ? 'object' : undefined);
  const errs: string[] = [];
  switch (type) {
    case undefined:
      break;
    case 'object': {
      if (typeof value !== 'object' || Array.isArray(value) || isLosslessNumber(value)) return [`${at}: expected object`];
      const obj = value as Record<string, unknown>;
      for (const r of s.required ?? []) if (!(r in obj)) errs.push(`${at}: missing required "${r}"`);
      for (const [k, v] of Object.entries(obj)) {
        const prop = s.properties?.[k];
        if (prop) errs.push(...validate(spec, prop, v, `${at}.${k}`));
        else if (typeof s.additionalProperties === 'object') errs.push(...validate(spec, s.additionalProperties, v, `${at}.${k}`));
        else if (s.additionalProperties !== true) errs.push(`${at}: property "${k}" is not in the schema`);
      }
      break;
    }
    case 'array':
      if (!Array.isArray(value)) return [`${at}: expected array`];
      if (s.items) value.forEach((v, i) => errs.push(...validate(spec, s.items!, v, `${at}[${i}]`)));
      break;
    case 'string':
      if (typeof value !== 'string') return [`${at}: expected string`];
      if (s.format === 'date-time' && Number.isNaN(Date.parse(value))) errs.push(`${at}: not a date-time`);
      break;
    case 'boolean':
      if (typeof value !== 'boolean') return [`${at}: expected boolean`];
      break;
    case 'integer': {
      const t = numText(value);
      if (t === undefined || !/^-?(0|[1-9][0-9]*)$/.test(t)) return [`${at}: expected integer`];
      const n = BigInt(t);
      if (s.format?.startsWith('uint') && n < 0n) errs.push(`${at}: negative ${s.format}`);
      if (s.format === 'uint32' && n > 4294967295n) errs.push(`${at}: beyond uint32`);
      if (s.format === 'uint64' && n > 18446744073709551615n) errs.push(`${at}: beyond uint64`);
      if (s.minimum !== undefined && n < BigInt(Math.ceil(s.minimum))) errs.push(`${at}: below minimum ${s.minimum}`);
      break;
    }
    case 'number':
      if (numText(value) === undefined) return [`${at}: expected number`];
      break;
    default:
      errs.push(`${at}: unsupported schema type ${type}`);
  }
  if (s.enum && !s.enum.includes(value)) errs.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(s.enum)}`);
  return errs;
}

/** Parses a body losslessly and validates it against the 200 schema of `path`. */
export function validateBody(spec: OpenApiSpec, path: string, body: string): string[] {
  return validate(spec, responseSchema(spec, path), parse(body));
}
