/** Host checks: is a tool installed, and which package provides it. */
import { accessSync, constants } from 'node:fs';
import { cpus } from 'node:os';
import { delimiter, join } from 'node:path';
import { HostToolError } from '../errors.ts';

const found = new Map<string, string | undefined>();

/** Where PATH finds a tool; asked of the file system once per tool and PATH in a process. */
export function whichSync(tool: string): string | undefined {
  const key = `${tool}\0${process.env.PATH ?? ''}`;
  if (!found.has(key)) found.set(key, lookPath(tool));
  return found.get(key);
}

function lookPath(tool: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, tool);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

let cpuList: { count: number; model: string } | undefined;

/** The host's CPUs: how many, and the first one's model (os.cpus() parses /proc/cpuinfo: once per process). */
export function hostCpus(): { count: number; model: string } {
  if (!cpuList) {
    const all = cpus();
    cpuList = { count: all.length, model: all[0]?.model.trim() ?? 'unknown' };
  }
  return cpuList;
}

export async function requireTool(tool: string, pkg: string): Promise<string> {
  const p = whichSync(tool);
  if (!p) throw new HostToolError(tool, pkg);
  return p;
}
