/** /proc/meminfo as numbers (kB, or a count for the HugePages_* lines), and differences between two reads. */
export type Meminfo = Record<string, number>;

export function parseMeminfo(text: string): Meminfo {
  const out: Meminfo = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z0-9_()]+):\s+(\d+)(?: kB)?\s*$/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** after - before, for every field both have. */
export function diffMeminfo(before: Meminfo, after: Meminfo): Meminfo {
  const out: Meminfo = {};
  for (const k of Object.keys(before)) if (k in after) out[k] = after[k]! - before[k]!;
  return out;
}
