// schema/mapproxy.schema.json and src/config/schema-validator.generated.ts are generated from
// src/config/schema.ts and must be up to date:
// after changing the schema, run `node --import tsx scripts/write-schema.ts`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Ajv } from 'ajv';
import { renderSchemaFile } from '../../../src/config/schema-json.js';
import { renderSchemaValidator } from '../../../scripts/schema-validator.js';

const file = new URL('../../../schema/mapproxy.schema.json', import.meta.url);

test('schema/mapproxy.schema.json is in sync with src/config/schema.ts', async () => {
  const onDisk = await readFile(file, 'utf8');
  assert.ok(
    onDisk === renderSchemaFile(),
    'schema/mapproxy.schema.json is out of date: run `node --import tsx scripts/write-schema.ts`',
  );
});

test('src/config/schema-validator.generated.ts is the schema compiled now', async () => {
  const onDisk = await readFile(new URL('../../../src/config/schema-validator.generated.ts', import.meta.url), 'utf8');
  assert.ok(
    onDisk === renderSchemaValidator(),
    'src/config/schema-validator.generated.ts is out of date (the schema or the installed ajv changed: see its first lines): run `node --import tsx scripts/write-schema.ts`',
  );
});

test('a schema whose compiled code would need ajv\'s run-time helpers is refused by the generator', () => {
  assert.throws(
    () => renderSchemaValidator({ type: 'object', properties: { name: { type: 'string', minLength: 1 } } }),
    { message: 'the schema needs ajv\'s run-time helper ajv/dist/runtime/ucs2length, which the generated ES module cannot load: express that check without it' },
  );
});

test('the published schema is valid draft-07 that a plain ajv (no mapproxy-ts code) can use', async () => {
  const schema = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
  // Only our annotation keyword and the OpenAPI discriminator are beyond draft-07.
  const ajv = new Ajv({ strict: false, discriminator: true, allErrors: true });
  const validate = ajv.compile(schema);
  assert.equal(validate({ services: { tms: {} }, layers: [{ name: 'a', title: 'A', sources: ['c'] }] }), true);
  assert.equal(validate({ layers: [{ name: 'a', title: 'A', layers: [{ name: 'b' }] }] }), false);
  assert.deepEqual(
    validate.errors?.map((e) => [e.instancePath, e.message]),
    [
      ['/layers/0/layers/0', "must have required property 'title'"],
      ['/layers', 'must be object'],
      ['/layers', 'must match a schema in anyOf'],
    ],
  );
});

test('the proj4_defs key (mapproxy-ts only) is documented in the schema', async () => {
  const schema = JSON.parse(await readFile(file, 'utf8'));
  const defs = schema.properties.globals.properties.srs.properties.proj4_defs;
  assert.equal(defs.type, 'object');
  assert.deepEqual(defs.additionalProperties, { type: 'string' });
  assert.match(defs.description, /^mapproxy-ts only: extra SRS definitions, code → proj4 string/);
});
