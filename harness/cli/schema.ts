/**
 * `kharness schema`: the scenario JSON Schema, into scenarios/schema.json or
 * to stdout. The build writes the same text beside the compiled code
 * (dist/scenario-schema.json), so the command reads one file and loads none
 * of the tables the schema is made from; from the sources (tests), it is made.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SCENARIOS_DIR } from '../paths.ts';
import type { Outcome } from './exit.ts';

/** The name of the schema's text in dist/ (scripts/build.js writes it). */
export const SCHEMA_FILE = 'scenario-schema.json';

export async function schemaText(): Promise<string> {
  const { scenarioSchema } = await import('../scenario/schema.ts');
  return `${JSON.stringify(scenarioSchema, null, 2)}\n`;
}

async function builtSchemaText(): Promise<string> {
  try {
    return readFileSync(new URL(`./${SCHEMA_FILE}`, import.meta.url), 'utf8');
  } catch {
    return schemaText();
  }
}

export async function schemaCommand(v: Record<string, unknown>): Promise<Outcome> {
  const text = await builtSchemaText();
  if (v.stdout) process.stdout.write(text);
  else await writeFile(join(SCENARIOS_DIR, 'schema.json'), text);
  return 'done';
}
