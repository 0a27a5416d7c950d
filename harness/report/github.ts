/**
 * GitHub Actions annotations: each failed expectation becomes an `::error`
 * workflow command with its file, line and column, so the pull request shows
 * it on the scenario's line. Used when GITHUB_ACTIONS is set.
 */

import type { ResultRecord } from '../results/records.ts';
import { displayPath, failureLine, targetLabel } from '../results/view.ts';

/** Workflow-command escaping: data and property values differ (docs: "workflow commands"). */
const data = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
const prop = (s: string) => data(s).replace(/:/g, '%3A').replace(/,/g, '%2C');

export function githubAnnotations(r: ResultRecord): string {
  if (r.type !== 'step' || (r.status !== 'fail' && r.status !== 'error')) return '';
  const title = `${targetLabel(r.target)} › ${r.scenario} › ${r.name}`;
  if (r.status === 'error') {
    const line = r.line ? `,line=${r.line}` : '';
    return `::error file=${prop(displayPath(r.scenarioFile))}${line},title=${prop(title)}::${data(r.reason ?? 'error')}\n`;
  }
  return r.failures
    .map((f) => {
      const file = prop(displayPath(f.pos?.file ?? r.scenarioFile));
      const at = f.pos ? `,line=${f.pos.line},col=${f.pos.column}` : r.line ? `,line=${r.line}` : '';
      return `::error file=${file}${at},title=${prop(title)}::${data(failureLine(f, { at: false }))}\n`;
    })
    .join('');
}

export function githubReporter(write: (s: string) => void): (r: ResultRecord) => void {
  return (r) => {
    const s = githubAnnotations(r);
    if (s) write(s);
  };
}
