/** Kernel config fragments: reading them and checking the merged .config honoured them. Pure. */

/** Options a fragment sets: CONFIG_X=value lines and "# CONFIG_X is not set". */
export function parseConfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const set = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (set) out.set(set[1]!, set[2]!);
    const unset = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/.exec(line);
    if (unset) out.set(unset[1]!, 'n');
  }
  return out;
}

/**
 * Options the fragments asked for that the final config does not have: a
 * dependency was missing or the option does not exist in this kernel.
 */
export function unmetOptions(wanted: Map<string, string>, final: Map<string, string>): string[] {
  const missing: string[] = [];
  for (const [k, v] of wanted) {
    const got = final.get(k) ?? 'n';
    if (got !== v) missing.push(`${k}=${v} (got ${got})`);
  }
  return missing;
}

/** Whether an option is built in or modular. */
export function isEnabled(config: Map<string, string>, option: string): boolean {
  const v = config.get(option);
  return v === 'y' || v === 'm';
}
