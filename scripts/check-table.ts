/**
 * The README's table of check ids, generated from the catalogue (hook/policy/check-ids.ts), between the markers
 * `<!-- check-table:start -->` and `<!-- check-table:end -->`.
 *   npx tsx scripts/check-table.ts           rewrite README.md in place
 *   npx tsx scripts/check-table.ts --check   exit 1 when README.md is not what this makes
 * test/unit/policy/check-ids.test.ts runs the same comparison.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ALL_CHECK_IDS, CHECK_CATALOGUE, runbookOf } from '../hook/policy/check-ids.js';

export const START = '<!-- check-table:start -->';
export const END = '<!-- check-table:end -->';

export function renderCheckTable(): string {
  const rows = ALL_CHECK_IDS.map((id) => {
    const about = CHECK_CATALOGUE[id].about.replace(/\|/g, '\\|');
    return `| \`${id}\` | ${about} | [${CHECK_CATALOGUE[id].runbook}](${runbookOf(id)}) |`;
  });
  return [START, '| check id | what it checks | runbook |', '|---|---|---|', ...rows, END].join('\n');
}

/** README text with the table replaced; throws when the markers are missing. */
export function withCheckTable(readme: string): string {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README.md has no ${START} ... ${END} block`);
  return readme.slice(0, a) + renderCheckTable() + readme.slice(b + END.length);
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = path.join(root, 'README.md');
  const current = fs.readFileSync(file, 'utf8');
  const wanted = withCheckTable(current);
  if (process.argv.includes('--check')) {
    if (current !== wanted) {
      console.error('README.md check table is not current: run npx tsx scripts/check-table.ts and commit it');
      process.exit(1);
    }
    console.log('README.md check table is current');
  } else {
    fs.writeFileSync(file, wanted);
    console.log(current === wanted ? 'README.md check table already current' : 'README.md check table regenerated');
  }
}
