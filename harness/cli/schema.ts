import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SCENARIOS_DIR } from '../paths.ts';
import { scenarioSchema } from '../scenario/schema.ts';
import type { Command } from './command.ts';

export function schemaText(): string {
  return `${JSON.stringify(scenarioSchema, null, 2)}\n`;
}

export const schemaCommand: Command = {
  summary: 'write scenarios/schema.json (the scenario JSON Schema) from its source',
  usage: 'kharness schema [--stdout]',
  options: { stdout: { type: 'boolean' } },
  async run(v) {
    if (v.stdout) process.stdout.write(schemaText());
    else await writeFile(join(SCENARIOS_DIR, 'schema.json'), schemaText());
    return 'done';
  },
};
