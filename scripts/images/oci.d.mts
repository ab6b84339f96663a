// Types of oci.mjs for the TypeScript tests.
export interface ImageConfig {
  User?: string;
  WorkingDir?: string;
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  Labels?: Record<string, string>;
  ExposedPorts?: Record<string, object>;
}
export interface WrittenImage {
  layout: string;
  manifestDigest: string;
  configDigest: string;
  layerDigest: string;
  layerSize: number;
}
export interface LayerEntry {
  path: string;
  /** tar's type letter: '-' file, 'd' directory, 'l' symlink, 'h' hard link */
  type: string;
  /** symbolic permission bits, e.g. 'rwxr-xr-x' */
  mode: string;
  uid: number;
  gid: number;
  link?: string;
}
export function writeImage(
  rootfs: string,
  outDir: string,
  image: { config: ImageConfig; names: string[]; created?: string; history?: string },
): WrittenImage;
export function listLayer(layout: string): { index: any; manifest: any; config: any; entries: LayerEntry[] };
