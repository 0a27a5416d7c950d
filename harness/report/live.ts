/**
 * Live progress on a terminal: one line per target at the bottom of the
 * screen (building 1 min 23 s, booting, scenario 3/8, done, failed), redrawn
 * every second, with the step lines and log lines scrolling above it. Only
 * used when stdout is a TTY and neither CI nor NO_COLOR is set; otherwise the
 * plain reporter's line-by-line output is all there is.
 */

import type { ResultRecord } from '../results/records.ts';
import { byPlan, planOf, targetLabel } from '../results/view.ts';
import { formatDuration } from '../util/proc.ts';

interface Line {
  phase: string;
  detail?: string;
  since: number;
}

export interface LiveFooter {
  /** Writes text above the footer (the reporter's and the log's lines). */
  print(text: string): void;
  onRecord(r: ResultRecord): void;
  stop(): void;
}

export function liveFooter(write: (s: string) => void, now: () => number = Date.now): LiveFooter {
  const lines = new Map<string, Line>();
  /** The run's targets in plan order: the footer lists them so, whichever began or finished first. */
  let plan: string[] = [];
  let drawn = 0;
  const clear = () => {
    if (drawn) write(`\x1b[${drawn}A\x1b[J`);
    drawn = 0;
  };
  const draw = () => {
    const rows = byPlan([...lines], ([t]) => t, plan).map(([t, l]) => {
      const elapsed = l.phase === 'building' || l.phase === 'booting' ? ` ${formatDuration(now() - l.since)}` : '';
      return `\x1b[2K  ${t.padEnd(18)} ${l.phase}${elapsed}${l.detail ? `  ${l.detail}` : ''}`;
    });
    if (rows.length) write(`${rows.join('\n')}\n`);
    drawn = rows.length;
  };
  const timer = setInterval(() => {
    clear();
    draw();
  }, 1000);
  timer.unref();
  return {
    print(text) {
      clear();
      write(text);
      draw();
    },
    onRecord(r) {
      if (r.type === 'run-begin') plan = planOf([r]);
      else if (r.type === 'status') lines.set(targetLabel(r.target), { phase: r.phase, detail: r.detail, since: now() });
      else if (r.type === 'target-end')
        lines.set(targetLabel(r.target), { phase: r.status === 'ok' ? 'done' : `failed (${r.status})`, since: now() });
      else return;
      clear();
      draw();
    },
    stop() {
      clearInterval(timer);
      clear();
    },
  };
}
