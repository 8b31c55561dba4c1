// Python float semantics the grid math relies on. Expected values from CPython 3 via
// `/usr/bin/python3 test/unit/grid/mapproxy_reference.py` (lines "repr misc", "round12 misc",
// "round misc", "floordiv misc").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pyFloatRepr, pyFloorDiv, pyRound, pyRoundInt } from '../../../src/grid/index.js';

test('pyFloatRepr matches repr(float)', () => {
  const cases: Array<[number, string]> = [
    [1e16, '1e+16'],
    [1234567890123456.0, '1234567890123456.0'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [5.0, '5.0'],
    [-0.5, '-0.5'],
    [1e22, '1e+22'],
    [123e-20, '1.23e-18'],
    [2.5e-7, '2.5e-07'],
    [8.58306884765625e-5, '8.58306884765625e-05'],
    [305.748113140705, '305.748113140705'],
    [0, '0.0'],
    [-0, '-0.0'],
    [NaN, 'nan'],
    [Infinity, 'inf'],
    [-Infinity, '-inf'],
  ];
  for (const [x, s] of cases) assert.equal(pyFloatRepr(x), s, `repr(${x})`);
});

test('pyRound rounds through the exact decimal value, ties to even', () => {
  // MapProxy: tile bboxes use round(v, 12). 1/8192 and 3/8192 are exact ties at 12 decimals.
  assert.deepEqual(
    [0.1 + 0.2, 1 / 8192, 3 / 8192, 2.675, -1 / 8192, 1e-13].map((x) => pyRound(x, 12)),
    [0.3, 0.000122070312, 0.000366210938, 2.675, -0.000122070312, 0],
  );
  assert.equal(pyRound(0.125, 2), 0.12);
  assert.equal(pyRound(0.375, 2), 0.38);
  assert.equal(pyRound(2.675, 2), 2.67); // 2.675 is stored as 2.67499999…
  assert.equal(pyRound(1.41421356237, 8), 1.41421356);
  assert.equal(pyRound(2 ** 60, 5), 2 ** 60);
  assert.ok(Number.isNaN(pyRound(NaN, 3)));
});

test('pyRoundInt is round() without digits: ties to even', () => {
  assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, 1183.9999999, 1104.5].map(pyRoundInt), [0, 2, 2, 0, -2, 1184, 1104]);
});

test('pyFloorDiv follows fmod like Python //', () => {
  // 1 // 0.1 is 9.0 in Python although 1 / 0.1 is exactly 10.0.
  assert.equal(pyFloorDiv(1, 0.1), 9);
  assert.equal(Math.floor(1 / 0.1), 10);
  assert.equal(pyFloorDiv(40075016.68557849, 156543.03392804097), 256);
  assert.equal(pyFloorDiv(7, 2), 3);
  assert.equal(pyFloorDiv(-7, 2), -4);
  assert.equal(pyFloorDiv(0.3, 0.1), 2);
});
