/**
 * Archive names: `raft-<statefulset>-<ordinal>-<from>-to-<to>-<UTC timestamp>.tar.gz` (README.md "Archives and restore").
 * The timestamp is `YYYYMMDDTHHMMSSZ`, so names sort by time within one volume.
 */
import { usageError } from '../errors.js';

export interface PodIdentity {
  statefulSet: string;
  ordinal: number;
}

export interface ArchiveNameParts extends PodIdentity {
  from: string;
  to: string;
  /** `20250321T101502Z` */
  timestamp: string;
  /** The timestamp as a Date. */
  createdAt: Date;
}

const NAME_RE = /^raft-(.+)-(\d+)-(\d+\.\d+\.\d+[0-9A-Za-z._-]*?)-to-(\d+\.\d+\.\d+[0-9A-Za-z._-]*)-(\d{8}T\d{6}Z)\.tar\.gz$/;

/** `qdrant-2` -> statefulset `qdrant`, ordinal 2 (StatefulSet pods are `<sts>-<ordinal>`). */
export function podIdentity(podName: string): PodIdentity {
  // A pod name is a DNS label (63 characters at most); an ordinal is an int32 without leading zeros. Anything else
  // would name an archive that is not this pod's, or one the manifest reader refuses.
  const m = podName.length <= 63 ? /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)-(0|[1-9][0-9]{0,9})$/.exec(podName) : null;
  if (!m || Number(m[3]) > 2147483647) {
    throw usageError(
      `cannot derive the statefulset and ordinal from pod name "${podName}" (expected <statefulset>-<ordinal>, e.g. qdrant-2)`,
      'Pass --pod <statefulset>-<ordinal>, or set POD_NAME.',
    );
  }
  return { statefulSet: m[1]!, ordinal: Number(m[3]) };
}

export function formatTimestamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

function parseTimestamp(ts: string): Date {
  const iso = `${ts.slice(0, 4)}-${ts.slice(4, 6)}-${ts.slice(6, 8)}T${ts.slice(9, 11)}:${ts.slice(11, 13)}:${ts.slice(13, 15)}Z`;
  return new Date(iso);
}

/** Versions keep only filename-safe characters (a build label `+x` becomes `_x`). */
function safeVersion(v: string): string {
  return v.replace(/^v/, '').replace(/[^0-9A-Za-z.-]/g, '_');
}

export function archiveName(id: PodIdentity, from: string, to: string, createdAt: Date): string {
  return `raft-${id.statefulSet}-${id.ordinal}-${safeVersion(from)}-to-${safeVersion(to)}-${formatTimestamp(createdAt)}.tar.gz`;
}

export function parseArchiveName(name: string): ArchiveNameParts | undefined {
  const m = NAME_RE.exec(name);
  if (!m) return undefined;
  const createdAt = parseTimestamp(m[5]!);
  if (Number.isNaN(createdAt.getTime())) return undefined;
  return { statefulSet: m[1]!, ordinal: Number(m[2]), from: m[3]!, to: m[4]!, timestamp: m[5]!, createdAt };
}
