/**
 * Writes schema/mapproxy.schema.json and src/config/schema-validator.generated.ts (the compiled
 * validator) from the TypeBox schema in src/config/schema.ts.
 * Run after changing the schema: `node --import tsx scripts/write-schema.ts`
 * (test/unit/config/schema-file.test.ts fails while either file is out of date).
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { renderSchemaFile } from '../src/config/schema-json.js';
import { renderSchemaValidator } from './schema-validator.js';

const target = fileURLToPath(new URL('../schema/mapproxy.schema.json', import.meta.url));
await writeFile(target, renderSchemaFile());
process.stdout.write(`wrote ${target}\n`);
const validator = fileURLToPath(new URL('../src/config/schema-validator.generated.ts', import.meta.url));
await writeFile(validator, renderSchemaValidator());
process.stdout.write(`wrote ${validator}\n`);
