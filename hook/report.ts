/**
 * The one result type of every command (DESIGN.md "Commands and their contract").
 * A check result is data; an exception means "could not check" (see errors.ts).
 * The JSON form is versioned; the text form is rendered from the same object.
 */

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';
export type Verdict = 'pass' | 'refuse' | 'fail';

export interface Check {
  /** Stable id from a fixed set, e.g. "volume.state", "version.policy", "peer.identity". */
  id: string;
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
  id: string,
  status: CheckStatus,
  subject: string,
  observed: string,
  expected: string,
  remedy = '',
): Check {
  return { id, status, subject, observed, expected, remedy };
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
    } else if (c.observed) {
      lines.push(`         ${c.observed}`);
    }
  }
  return lines.join('\n') + '\n';
}

export function render(report: Report, output: 'text' | 'json'): string {
  return output === 'json' ? renderJson(report) : renderText(report);
}
