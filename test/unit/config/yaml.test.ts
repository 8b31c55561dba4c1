// The YAML dialect: values as PyYAML's safe_load (YAML 1.1) gives them, because MapProxy reads
// mapproxy.yaml with PyYAML. Expected values checked with PyYAML 6 `yaml.safe_load`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseYaml, syntaxProblem } from '../../../src/config/yaml.js';

const value = (text: string): unknown => (parseYaml(`v: ${text}`) as { v: unknown }).v;

test('YAML 1.1 booleans in all of PyYAML case variants', () => {
  // MapProxy: PyYAML reads yes/no/on/off as booleans (REFERENCE.md §6, last row).
  for (const t of ['yes', 'Yes', 'YES', 'on', 'On', 'ON', 'true', 'True', 'TRUE']) assert.equal(value(t), true, t);
  for (const f of ['no', 'No', 'NO', 'off', 'Off', 'OFF', 'false', 'False', 'FALSE']) assert.equal(value(f), false, f);
});

test('y, n, mixed case and quoted booleans stay strings (as in PyYAML)', () => {
  for (const s of ['y', 'Y', 'n', 'N', 'yEs', 'oN', 'oFF', 'tRUE']) assert.equal(value(s), s, s);
  assert.equal(value('"yes"'), 'yes');
  assert.equal(value("'off'"), 'off');
});

test('YAML 1.1 integers: octal, binary, hex, underscores, base 60', () => {
  assert.equal(value('0755'), 493);
  assert.equal(value('0b101'), 5);
  assert.equal(value('-0b1_0'), -2);
  assert.equal(value('0x1F'), 31);
  assert.equal(value('0x_1F'), 31);
  assert.equal(value('1_000'), 1000);
  assert.equal(value('1:30'), 90);
  assert.equal(value('12:30:45'), 45045);
  assert.equal(value('+1'), 1);
  assert.equal(value('-0'), 0);
  assert.equal(value('00'), 0);
  // Not integers in YAML 1.1: 8 and 9 are no octal digits, 0o is YAML 1.2.
  assert.equal(value('09'), '09');
  assert.equal(value('08'), '08');
  assert.equal(value('0o17'), '0o17');
});

test('YAML 1.1 floats need a dot; an exponent needs a sign', () => {
  assert.equal(value('1.5'), 1.5);
  assert.equal(value('.5'), 0.5);
  assert.equal(value('1.'), 1);
  assert.equal(value('1.5e+5'), 150000);
  assert.equal(value('190:20:30.15'), 685230.15);
  assert.equal(value('.inf'), Infinity);
  assert.equal(value('-.Inf'), -Infinity);
  assert.ok(Number.isNaN(value('.NaN')));
  assert.equal(value('1e3'), '1e3');
  assert.equal(value('1.5e5'), '1.5e5');
});

test('nulls, timestamps as strings, merge keys', () => {
  assert.deepEqual(parseYaml('a: ~\nb:\nc: NULL\nd: Null\ne: null'), { a: null, b: null, c: null, d: null, e: null });
  // PyYAML would make a date; nothing in the schema wants one, so it stays the text written.
  assert.equal(value('2024-01-31'), '2024-01-31');
  assert.equal(value('2024-01-31T12:00:00'), '2024-01-31T12:00:00');
  assert.deepEqual(parseYaml('a: &x {b: 1, c: 2}\nd:\n  <<: *x\n  c: 3'), { a: { b: 1, c: 2 }, d: { b: 1, c: 3 } });
});

test('a syntax error gives line, column and reason', () => {
  let caught: unknown;
  try {
    parseYaml('a: 1\n  b: 2\n', 'x.yaml');
  } catch (err) {
    caught = err;
  }
  assert.deepEqual(syntaxProblem(caught), { line: 2, column: 4, reason: 'bad indentation of a mapping entry' });
  assert.equal(syntaxProblem(new Error('other')), undefined);
});
