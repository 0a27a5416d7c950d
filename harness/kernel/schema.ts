/**
 * The kernel documents as JSON Schemas (draft-07): kernels/catalog.yaml
 * (catalog.ts) and kernels/distro-mm.yaml (distro.ts), checked at load with
 * file:line:column errors by util/document.ts.
 */
import { ARCHES } from '../arch/arches.ts';

const names = { type: 'array', items: { type: 'string', minLength: 1 } };
// biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then, never awaited
const when = (type: string, required: string[]) => ({ if: { properties: { type: { const: type } } }, then: { required } });

const source = {
  type: 'object',
  additionalProperties: false,
  required: ['type'],
  properties: {
    type: { type: 'string', enum: ['debian-source', 'git', 'debian-image', 'build'] },
    package: { type: 'string', pattern: '^linux-source-\\d+\\.\\d+$' },
    tarball: { type: 'string', minLength: 1 },
    repo: { type: 'string', minLength: 1 },
    ref: { type: 'string', minLength: 1 },
    version: { type: 'string', minLength: 1 },
    series: { type: 'string', pattern: '^\\d+\\.\\d+$' },
    flavour: { type: 'string', minLength: 1 },
    guest_modules: names,
    dir: { type: 'string', minLength: 1 },
  },
  allOf: [when('debian-source', ['package']), when('git', ['repo', 'ref']), when('debian-image', ['flavour']), when('build', ['dir'])],
};

export const catalogSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'kharness kernel catalog',
  type: 'object',
  additionalProperties: false,
  required: ['kernels'],
  properties: {
    kernels: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'source', 'arches', 'fragments'],
        properties: {
          // A bare 6.1 reads as a number; the loader makes it a string again.
          name: { type: ['string', 'number'] },
          source,
          arches: { type: 'array', minItems: 1, items: { type: 'string', enum: Object.keys(ARCHES) } },
          fragments: names,
          overlay: names,
          memory_mb: { type: 'integer', minimum: 64 },
          distro_parity: { type: ['boolean', 'string'] },
          default: { type: 'boolean' },
        },
      },
    },
  },
} as const;

const optionName = { type: 'string', pattern: '^[A-Z0-9_]+$' };

export const distroMmSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'kharness distribution allocator parity list',
  type: 'object',
  additionalProperties: false,
  required: ['options'],
  properties: {
    options: {
      type: 'array',
      minItems: 1,
      items: {
        oneOf: [
          optionName,
          {
            type: 'object',
            additionalProperties: false,
            required: ['name'],
            properties: { name: optionName, optional: { type: 'string' } },
          },
        ],
      },
    },
  },
} as const;
