/**
 * Version policy for a Qdrant upgrade (docs/qdrant-facts.md#upgrade-rules): pure, no I/O.
 *
 * Rules, decided on purpose:
 * - Tags: one leading `v` is dropped (`v1.13.4` is the Qdrant image tag of 1.13.4); surrounding
 *   whitespace is trimmed. Anything else that is not full semver (`1.13`, `latest`) is a usage error.
 * - Build metadata (`+build5`) is ignored entirely (semver precedence ignores it too).
 * - Pre-release labels (`1.11.6-dev`, `1.13.4-unprivileged`) never decide the kind:
 *   the kind is computed on major.minor.patch alone. Qdrant's image variants (`-unprivileged`,
 *   `-gpu-nvidia`) are pre-release labels to semver, and semver precedence would call
 *   `1.13.4 -> 1.13.4-unprivileged` a downgrade although it runs the same code. A change of label only
 *   is therefore reported as `patch` (the same release, rebuilt) and passes.
 * - none / patch / one minor step pass. A skipped minor or a major change is refused unless
 *   `allowVersionSkip`; then it passes with a warning. A downgrade is refused unless `allowDowngrade`
 *   (Qdrant documents no downgrade path, docs/qdrant-facts.md#upgrade-rules; `allowVersionSkip` alone does not cover it).
 */
import semver from 'semver';
import { check, type Check } from '../report.js';
import { usageError } from '../errors.js';

export const VERSION_CHANGE_KINDS = ['none', 'patch', 'minor', 'skipped-minor', 'major', 'downgrade'] as const;
export type VersionChangeKind = (typeof VERSION_CHANGE_KINDS)[number];

export const VERSION_CHECK_ID = 'version.policy';

export interface VersionChangeInput {
  from: string;
  to: string;
  /** Lets a skipped minor or a major change pass with a warning (`--allow-version-skip`). */
  allowVersionSkip?: boolean;
  /** Lets a downgrade pass with a warning. Not implied by allowVersionSkip. */
  allowDowngrade?: boolean;
  /** What the check is about, e.g. "statefulset/qdrant"; defaults to "qdrant". */
  subject?: string;
}

export interface VersionChangeDecision {
  kind: VersionChangeKind;
  /** Normalised versions (no `v`, no whitespace). */
  from: string;
  to: string;
  /** Versions to pass through, e.g. ["1.11.3", "1.12.x", "1.13.4"]; empty when the step is allowed as is. */
  path: string[];
  check: Check;
}

/**
 * What the guard relies on about particular Qdrant versions, in one place. Everything that compares a running
 * version with a threshold reads it from here.
 */
export const QDRANT_VERSION_FACTS = {
  /** GET /telemetry?details_level=3 reports cluster.peer_metadata from this version on (docs/qdrant-facts.md#peer-metadata-api). */
  peerMetadataApiSince: '1.16.0',
  /**
   * Single-peer clusters on [from, until) never refresh their own peer_metadata entry after an upgrade
   * (docs/qdrant-facts.md#single-peer-stale-metadata).
   */
  staleSelfMetadata: { from: '1.13.3', until: '1.15.0' },
  /** Every start from this version on writes raft_state.json (the <= 1.3 CBOR `raft_state` is then stale; docs/qdrant-facts.md#storage-directory). */
  jsonRaftStateSince: '1.4.0',
} as const;

/**
 * The one version parser: trims, drops one leading `v` (the image tag of a release), and reads full semver;
 * undefined when the text is not a version. parseVersion is the same with a usage error instead of undefined.
 */
export function readVersion(raw: string | undefined): semver.SemVer | undefined {
  if (raw === undefined) return undefined;
  const trimmed = raw.trim();
  const bare = trimmed.startsWith('v') ? trimmed.slice(1) : trimmed;
  return (/^\d/.test(bare) && semver.parse(bare)) || undefined;
}

/** MAJOR.MINOR.PATCH of a version: labels like `-unprivileged` are image variants of the same release. */
export function versionCore(v: semver.SemVer): string {
  return `${v.major}.${v.minor}.${v.patch}`;
}

/** True when `raw` reads as a version whose core is at least `min`. */
export function versionAtLeast(raw: string | undefined, min: string): boolean {
  const v = readVersion(raw);
  return v !== undefined && semver.gte(versionCore(v), min);
}

/** True when `raw` reads as a version whose core lies in [from, until). */
export function versionWithin(raw: string | undefined, range: { from: string; until: string }): boolean {
  const v = readVersion(raw);
  return v !== undefined && semver.gte(versionCore(v), range.from) && semver.lt(versionCore(v), range.until);
}

/** Two version texts in semver order when both read as versions, else as text. */
export function compareVersionTexts(a: string, b: string): number {
  const pa = readVersion(a);
  const pb = readVersion(b);
  if (pa && pb) return semver.compare(pa, pb);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** "1.13.4" for "v1.13.4" and " 1.13.4 "; anything else unchanged. */
export function normalizeVersionText(v: string): string {
  const t = v.trim();
  return /^v\d/.test(t) ? t.slice(1) : t;
}

/** Normalises a version or tag per the rules above; throws a usage error (exit 2) if it is not semver. */
export function parseVersion(raw: string, what = 'version'): semver.SemVer {
  const parsed = readVersion(raw);
  if (!parsed) {
    throw usageError(
      `${what} "${raw}" is not a semver version (expected MAJOR.MINOR.PATCH, e.g. 1.13.4 or v1.13.4)`,
      'Pass the Qdrant version explicitly (for the chart: upgradeGuard.targetVersion) when the image tag is not a version.',
    );
  }
  return parsed;
}

export function isVersion(raw: string): boolean {
  try {
    parseVersion(raw);
    return true;
  } catch {
    return false;
  }
}

const core = versionCore;

export function classifyVersionChange(from: semver.SemVer, to: semver.SemVer): VersionChangeKind {
  const cmp = semver.compare(core(from), core(to));
  if (cmp > 0) return 'downgrade';
  if (cmp === 0) return from.version === to.version ? 'none' : 'patch';
  if (to.major !== from.major) return 'major';
  if (to.minor === from.minor) return 'patch';
  return to.minor === from.minor + 1 ? 'minor' : 'skipped-minor';
}

/**
 * The supported path from `from` to `to` within one major: one minor at a time, each intermediate minor
 * at its latest patch (docs/qdrant-facts.md#upgrade-rules), e.g. 1.11.3 -> 1.12.x -> 1.13.4.
 */
export function upgradePath(from: semver.SemVer, to: semver.SemVer): string[] {
  if (from.major !== to.major || to.minor <= from.minor + 1) return [from.version, to.version];
  const steps = [from.version];
  for (let minor = from.minor + 1; minor < to.minor; minor++) steps.push(`${from.major}.${minor}.x`);
  steps.push(to.version);
  return steps;
}

export function decideVersionChange(input: VersionChangeInput): VersionChangeDecision {
  const from = parseVersion(input.from, 'current version');
  const to = parseVersion(input.to, 'target version');
  const kind = classifyVersionChange(from, to);
  const subject = input.subject ?? 'qdrant';
  const observed = `${from.version} -> ${to.version} (${kind})`;
  const base = { kind, from: from.version, to: to.version };

  switch (kind) {
    case 'none':
    case 'patch':
    case 'minor':
      return {
        ...base,
        path: [],
        check: check(VERSION_CHECK_ID, 'pass', subject, observed, 'same version, a patch, or one minor step'),
      };
    case 'skipped-minor': {
      const path = upgradePath(from, to);
      const skipped = to.minor - from.minor - 1;
      const route = path.join(' -> ');
      if (input.allowVersionSkip) {
        return {
          ...base,
          path,
          check: check(
            VERSION_CHECK_ID,
            'warn',
            subject,
            `${observed}: skips ${skipped} minor version(s), allowed by allowVersionSkip`,
            'one minor step at a time',
            `Qdrant supports ${route}; you chose to skip. Keep the raft-state archives until the cluster is verified.`,
          ),
        };
      }
      return {
        ...base,
        path,
        check: check(
          VERSION_CHECK_ID,
          'fail',
          subject,
          `${observed}: skips ${skipped} minor version(s)`,
          `at most one minor step (${from.major}.${from.minor} -> ${from.major}.${from.minor + 1}.x)`,
          `Upgrade one minor at a time, each to its latest patch: ${route} (docs/runbooks.md#version-change-refused, https://qdrant.tech/documentation/upgrades/). ` +
            'To go ahead anyway, set upgradeGuard.preUpgrade.allowVersionSkip=true (--allow-version-skip).',
        ),
      };
    }
    case 'major': {
      const path = [from.version, to.version];
      const status = input.allowVersionSkip ? 'warn' : 'fail';
      return {
        ...base,
        path,
        check: check(
          VERSION_CHECK_ID,
          status,
          subject,
          `${observed}${input.allowVersionSkip ? ', allowed by allowVersionSkip' : ''}`,
          `the same major version (${from.major}.x)`,
          input.allowVersionSkip
            ? 'A major upgrade has no documented path; keep the raft-state archives until the cluster is verified.'
            : `Read the Qdrant ${to.major}.0 release notes for the migration path, then set ` +
                'upgradeGuard.preUpgrade.allowVersionSkip=true (--allow-version-skip) to proceed.',
        ),
      };
    }
    case 'downgrade': {
      const path = [from.version, to.version];
      if (input.allowDowngrade) {
        return {
          ...base,
          path,
          check: check(
            VERSION_CHECK_ID,
            'warn',
            subject,
            `${observed}, allowed by allowDowngrade`,
            `a version >= ${from.version}`,
            'Qdrant documents no downgrade path; restore the pre-upgrade archives if the peers do not converge.',
          ),
        };
      }
      return {
        ...base,
        path,
        check: check(
          VERSION_CHECK_ID,
          'fail',
          subject,
          observed,
          `a version >= ${core(from)}`,
          `Qdrant documents no downgrade path (docs/runbooks.md#version-change-refused). Keep image.tag at ${from.version} or newer; ` +
            'to roll back data, restore a snapshot taken before the upgrade instead of running an older binary on newer storage.',
        ),
      };
    }
  }
}
