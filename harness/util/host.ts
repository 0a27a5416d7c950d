/** Host checks: is a tool installed, and which package provides it. */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { HostToolError } from '../errors.ts';

export function whichSync(tool: string): string | undefined {
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

export async function requireTool(tool: string, pkg: string): Promise<string> {
  const p = whichSync(tool);
  if (!p) throw new HostToolError(tool, pkg);
  return p;
}
