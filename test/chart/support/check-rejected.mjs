#!/usr/bin/env node
// Renders the chart with each case of test/chart/fixtures/rejected-values.yaml and fails unless every render is
// refused (non-zero exit) with the case's refusal text: for `by: validate` the chart's own VALUES VALIDATION message,
// for `by: schema` this Helm major's schema error. Usage: node test/chart/support/check-rejected.mjs <helm binary>
// (a path ending in helm3 or helm4). Used by scripts/lint.sh; test/chart/values.test.ts checks the same list.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const helm = process.argv[2];
const major = /helm4/.test(path.basename(helm ?? '')) ? 'helm4' : /helm3/.test(path.basename(helm ?? '')) ? 'helm3' : undefined;
if (!helm || !major) {
  console.error('usage: check-rejected.mjs <helm binary: .../helm3 or .../helm4>');
  process.exit(2);
}

/** The lines a refusal of `c` by this Helm major must contain. */
export function expectedRefusal(c, major) {
  return c.by === 'validate' ? ['VALUES VALIDATION', ...c.refusal] : [...c.refusal[major]];
}

const cases = parse(fs.readFileSync(path.join(repoRoot, 'test/chart/fixtures/rejected-values.yaml'), 'utf8'));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rejected-'));
let wrong = 0;
for (const [i, c] of cases.entries()) {
  const file = path.join(dir, `${i}.yaml`);
  fs.writeFileSync(file, stringify(c.values));
  const r = spawnSync(helm, ['template', 'qdrant-ci', path.join(repoRoot, 'chart'), '-f', file], { encoding: 'utf8' });
  const refused = r.status !== 0 && r.status !== null;
  const missing = expectedRefusal(c, major).filter((line) => !r.stderr.includes(line));
  const ok = refused && missing.length === 0;
  if (!ok) wrong += 1;
  console.log(`${ok ? 'refused ' : refused ? 'WORDING ' : 'ACCEPTED'}  ${c.name} (${c.by})`);
  if (refused && missing.length) console.log(`          missing: ${JSON.stringify(missing)}\n          got: ${r.stderr.trim().split('\n').join('\n               ')}`);
}
fs.rmSync(dir, { recursive: true, force: true });
console.log(`${cases.length - wrong} of ${cases.length} refused with their message by ${path.basename(helm)}`);
process.exit(wrong === 0 ? 0 : 1);
