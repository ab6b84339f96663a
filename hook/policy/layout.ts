/**
 * The chart's layout of a Qdrant pod as the hooks rely on it (chart/templates/qdrant-statefulset.yaml): where the
 * storage is mounted, where the guard keeps its archives, the ports and the container names. One place, so a
 * change to the chart is one edit here.
 */

/** Qdrant's storage dir in the pod (the chart mounts the qdrant-storage PVC here). */
export const QDRANT_STORAGE_PATH = '/qdrant/storage';
/** The guard's own folder inside the storage dir: archives and the lock file. */
export const GUARD_DIR_NAME = '.upgrade-guard';
/** Qdrant's snapshots dir in the pod, and where the guard puts archives there when asked to (not in storage). */
export const QDRANT_SNAPSHOTS_PATH = '/qdrant/snapshots';
export const SNAPSHOTS_ARCHIVE_DIR = `${QDRANT_SNAPSHOTS_PATH}/upgrade-guard`;
/** Qdrant's REST port (config.service.http_port) and the p2p port peers reach each other on. */
export const QDRANT_HTTP_PORT = 6333;
export const QDRANT_P2P_PORT = 6335;
/** The Qdrant container of a pod, and the init container that checks the volume before Qdrant starts. */
export const QDRANT_CONTAINER = 'qdrant';
export const STARTUP_CHECK_CONTAINER = 'upgrade-guard-startup-check';

/** `<storage>/.upgrade-guard`, whatever trailing slashes `storagePath` has. */
export function archiveDirOf(storagePath: string): string {
  return `${storagePath.replace(/\/+$/, '')}/${GUARD_DIR_NAME}`;
}
