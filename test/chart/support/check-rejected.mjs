#!/usr/bin/env node
// Renders the chart with each case of test/chart/fixtures/rejected-values.yaml and fails unless every render is
// refused (non-zero exit). Usage: node test/chart/support/check-rejected.mjs <helm binary>. Used by scripts/lint.sh.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const helm = process.argv[2];
if (!helm) {
  console.error('usage: check-rejected.mjs <helm binary>');
  process.exit(2);
}
const cases = parse(fs.readFileSync(path.join(repoRoot, 'test/chart/fixtures/rejected-values.yaml'), 'utf8'));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rejected-'));
let accepted = 0;
for (const [i, c] of cases.entries()) {
  const file = path.join(dir, `${i}.yaml`);
  fs.writeFileSync(file, stringify(c.values));
  const r = spawnSync(helm, ['template', 'qdrant-ci', path.join(repoRoot, 'chart'), '-f', file], { encoding: 'utf8' });
  const ok = r.status !== 0 && r.status !== null;
  if (!ok) accepted += 1;
  console.log(`${ok ? 'refused ' : 'ACCEPTED'}  ${c.name} (${c.by})`);
}
fs.rmSync(dir, { recursive: true, force: true });
console.log(`${cases.length - accepted} of ${cases.length} refused by ${path.basename(helm)}`);
process.exit(accepted === 0 ? 0 : 1);
