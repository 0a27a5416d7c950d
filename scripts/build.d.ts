/** Types of scripts/build.js for the TypeScript that imports it (the test setup, the startup benchmark). */
export interface Manifest {
  /** scripts/stamp.js's stamp of the sources the build read. */
  stamp: string;
  /** A hash of the compiled files' hashes: what results of this code kept between runs are keyed on. */
  code: string;
  /** Every compiled file under dist/, by name. */
  files: Record<string, { bytes: number; sha256: string }>;
}

export function buildDist(root?: string, o?: { clean?: boolean }): Promise<Manifest>;
