import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SCENARIOS_DIR } from '../paths.ts';
import { scenarioSchema } from '../scenario/schema.ts';
import type { Outcome } from './exit.ts';

export function schemaText(): string {
  return `${JSON.stringify(scenarioSchema, null, 2)}\n`;
}

export async function schemaCommand(v: Record<string, unknown>): Promise<Outcome> {
  if (v.stdout) process.stdout.write(schemaText());
  else await writeFile(join(SCENARIOS_DIR, 'schema.json'), schemaText());
  return 'done';
}
