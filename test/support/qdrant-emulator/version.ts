/**
 * Qdrant versions as the emulator sees them: image tags normalised to semver, compared, and printed
 * the way Rust's `semver::Version` Debug impl prints them inside "Replaced metadata" log lines
 * (docs/incident-6229.md).
 */
import semver from 'semver';

/** Suffixes of official image tags that do not change the Qdrant version. */
const TAG_SUFFIXES = ['-unprivileged', '-gpu-nvidia', '-gpu-amd'];

/**
 * `v1.13.5`, `1.13.5-unprivileged`, `v1.13.5-gpu-nvidia-unprivileged` -> `1.13.5`.
 * A pre-release such as `1.11.6-dev` is kept. Throws on anything that is not a version.
 */
export function normaliseVersion(raw: string): string {
  let v = raw.trim();
  if (v.startsWith('v') || v.startsWith('V')) v = v.slice(1);
  let changed = true;
  while (changed) {
    changed = false;
    for (const suffix of TAG_SUFFIXES) {
      if (v.endsWith(suffix)) {
        v = v.slice(0, -suffix.length);
        changed = true;
      }
    }
  }
  const valid = semver.valid(v);
  if (!valid) throw new Error(`not a Qdrant version: ${JSON.stringify(raw)} (expected x.y.z, v-prefix and image suffixes allowed)`);
  return valid;
}

export function compareVersions(a: string, b: string): number {
  return semver.compare(a, b);
}

/** True when `v >= min`, ignoring pre-release tags (a 1.16.0-dev build has 1.16 behaviour). */
export function versionAtLeast(v: string, min: string): boolean {
  const core = semver.coerce(v);
  return core !== null && semver.gte(core, min);
}

/** Rust `semver::Version` Debug form: `Version { major: 1, minor: 13, patch: 4 }` (pre only when set). */
export function rustVersionDebug(v: string): string {
  const parsed = semver.parse(v);
  if (!parsed) return `Version { ${v} }`;
  let out = `Version { major: ${parsed.major}, minor: ${parsed.minor}, patch: ${parsed.patch}`;
  if (parsed.prerelease.length > 0) out += `, pre: Prerelease("${parsed.prerelease.join('.')}")`;
  if (parsed.build.length > 0) out += `, build: BuildMetadata("${parsed.build.join('.')}")`;
  return out + ' }';
}

/** The whole `PeerMetadata { version: ... }` Debug string Qdrant logs. */
export function peerMetadataDebug(v: string): string {
  return `PeerMetadata { version: ${rustVersionDebug(v)} }`;
}

/**
 * docs/qdrant-facts.md#single-peer-stale-metadata: single-peer clusters on 1.13.3 to 1.14.x never refresh their own
 * `peer_metadata_by_id` entry (fixed in 1.15.0). The emulator reproduces the bug on those versions.
 */
export function hasStaleSelfMetadataBug(v: string): boolean {
  return versionAtLeast(v, '1.13.3') && !versionAtLeast(v, '1.15.0');
}

/** A deterministic fake build sha per version, so `GET /` looks like a real build. */
export function fakeCommitSha(v: string): string {
  let h = 0x811c9dc5;
  let out = '';
  for (let round = 0; out.length < 40; round++) {
    for (const ch of `${v}#${round}`) {
      h ^= ch.charCodeAt(0);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    out += h.toString(16).padStart(8, '0');
  }
  return out.slice(0, 40);
}
