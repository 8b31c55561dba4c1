/**
 * Writes schema/mapproxy.schema.json from the TypeBox schema in src/config/schema.ts.
 * Run after changing the schema: `node --import tsx scripts/write-schema.ts`
 * (test/unit/config/schema-file.test.ts fails while the file is out of date).
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { renderSchemaFile } from '../src/config/schema-json.js';

const target = fileURLToPath(new URL('../schema/mapproxy.schema.json', import.meta.url));
await writeFile(target, renderSchemaFile());
process.stdout.write(`wrote ${target}\n`);
