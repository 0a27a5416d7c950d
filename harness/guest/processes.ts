/**
 * Every QEMU the harness starts is registered here and killed on every exit
 * path: normal exit, error, SIGINT, SIGTERM. QEMU is also started under
 * `setpriv --pdeathsig KILL`, so even a SIGKILLed harness leaves none behind.
 */
import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();
let installed = false;

export function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  installHandlers();
}

export function killAll(): void {
  for (const c of live) {
    try {
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

function installHandlers(): void {
  if (installed) return;
  installed = true;
  process.once('exit', killAll);
}
