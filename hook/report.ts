/**
 * The one result type of every command (README.md "CLI reference").
 * A check result is data; an exception means "could not check" (see errors.ts).
 * The JSON form is versioned; the text form is rendered from the same object.
 * Each field says one thing: the summary is one line, `observed` the facts, `remedy` the steps.
 */
import { GuardError } from './errors.js';
import { CHECK_CATALOGUE, isCheckId, runbookOf, type CheckId } from './policy/check-ids.js';

export type { CheckId };

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';
export type Verdict = 'pass' | 'refuse' | 'fail';

export interface Check {
  /** Stable id from the catalogue (policy/check-ids.ts), e.g. "volume.state", "version.policy", "peer.identity". */
  id: CheckId;
  status: CheckStatus;
  /** The object checked: a pod, a PVC, a file. */
  subject: string;
  observed: string;
  expected: string;
  /** What to do about it; empty for a pass. */
  remedy: string;
}

export interface Report {
  schemaVersion: 1;
  command: string;
  verdict: Verdict;
  /** One sentence a person reads first. */
  summary: string;
  checks: Check[];
  /** Command-specific data (storage description, archive path, record, ...). Ids inside are decimal strings. */
  details?: Record<string, unknown>;
}

export function check(
  id: CheckId,
  status: CheckStatus,
  subject: string,
  observed: string,
  expected: string,
  remedy = '',
): Check {
  // The type already says so; this catches an id built at run time, so no report carries an id CI does not know.
  if (!isCheckId(id)) {
    throw new GuardError('internal', `check id "${String(id)}" is not in the catalogue (hook/policy/check-ids.ts)`, {
      remedy: 'This is a bug in qdrant-upgrade-guard; please report it with this output.',
    });
  }
  return { id, status, subject, observed, expected, remedy };
}

/**
 * One line naming what failed, the start of what was seen, and where to read, for a summary or an Event:
 * "volume.state on pvc/x (qdrant-1): raft_state.json ... is missing...; version.policy on qdrant: 1.11.3 -> 1.13.4
 * (skipped-minor)...; see docs/runbooks.md#...". The whole facts stay in `observed`, the steps in `remedy`.
 */
export function failureHeadline(failed: readonly Check[], max = 3): string {
  if (failed.length === 0) return '';
  // An Event is often all an operator sees (kubectl describe): each failure keeps the start of what was seen.
  const named = failed.slice(0, max).map((c) => `${c.id} on ${c.subject}: ${brief(c.observed)}`);
  const more = failed.length > max ? ` and ${failed.length - max} more` : '';
  return `${named.join('; ')}${more}; see ${runbookOf(failed[0]!.id)}`;
}

/** The first words of an observation, cut at a word boundary: enough to tell one failure from another. */
function brief(observed: string, max = 90): string {
  const line = observed.replace(/\s+/g, ' ').trim();
  if (line.length <= max) return line;
  const cut = line.lastIndexOf(' ', max);
  return `${line.slice(0, cut > max / 2 ? cut : max)}...`;
}

/** The catalogue's one-sentence description of a check. */
export function aboutCheck(id: CheckId): string {
  return CHECK_CATALOGUE[id].about;
}

/**
 * The verdict that follows from a set of checks: any failure is a refusal before a change
 * (pre-upgrade, volume) or a failure after it (post-upgrade, verify).
 */
export function verdictOf(checks: readonly Check[], onFailure: 'refuse' | 'fail'): Verdict {
  return checks.some((c) => c.status === 'fail') ? onFailure : 'pass';
}

export function exitCodeOf(report: Report): number {
  return report.verdict === 'pass' ? 0 : 1;
}

export function renderJson(report: Report): string {
  return JSON.stringify(report, (_key, value) => (typeof value === 'bigint' ? value.toString() : value), 2) + '\n';
}

const MARK: Record<CheckStatus, string> = { pass: 'ok  ', fail: 'FAIL', warn: 'WARN', skip: 'skip' };

export function renderText(report: Report): string {
  const lines: string[] = [];
  const head = report.verdict === 'pass' ? 'PASS' : report.verdict === 'refuse' ? 'REFUSED' : 'FAILED';
  lines.push(`${head}: ${report.summary}`);
  // Failures first: at 3 a.m. the reader needs the broken thing on the first screen.
  const order: CheckStatus[] = ['fail', 'warn', 'pass', 'skip'];
  const sorted = [...report.checks].sort((a, b) => order.indexOf(a.status) - order.indexOf(b.status));
  for (const c of sorted) {
    lines.push(`  [${MARK[c.status]}] ${c.id} ${c.subject}`);
    if (c.status === 'fail' || c.status === 'warn') {
      lines.push(`         observed: ${c.observed}`);
      lines.push(`         expected: ${c.expected}`);
      if (c.remedy) lines.push(`         remedy:   ${c.remedy}`);
      // Every failure and warning points at its runbook, even when its remedy text names none.
      if (!c.remedy.includes('docs/runbooks.md#')) lines.push(`         runbook:  ${runbookOf(c.id)}`);
    } else if (c.observed) {
      lines.push(`         ${c.observed}`);
    }
  }
  return lines.join('\n') + '\n';
}

export function render(report: Report, output: 'text' | 'json'): string {
  return output === 'json' ? renderJson(report) : renderText(report);
}
