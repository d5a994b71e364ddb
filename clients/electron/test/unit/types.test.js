'use strict';
/**
 * types.d.ts is generated from the sidecar's pydantic models by scripts/gen_types.py; these tests fail when it is
 * stale, and check the generator itself on a small schema file.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { REPO_ROOT, PYTHON, sidecarSkip } = require('../helpers/sidecar-env');

const GEN = path.join(REPO_ROOT, 'scripts', 'gen_types.py');

test('types.d.ts matches the sidecar models (gen_types.py --check)', { skip: sidecarSkip() }, () => {
  const r = spawnSync(PYTHON, [GEN, '--check'], { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, `types.d.ts is stale; run "python scripts/gen_types.py".\n${r.stdout}\n${r.stderr}`);
});

test('gen_types.py renders interfaces, enums, nullable and optional fields, tuples and notifications', () => {
  const python = fs.existsSync(PYTHON) ? PYTHON : 'python3';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gen-types-'));
  const schemasPath = path.join(dir, 'schemas.json');
  const out = path.join(dir, 'types.d.ts');
  const org = {
    title: 'Thing', type: 'object', additionalProperties: false,
    properties: {
      id: { type: 'string', description: 'pool id' },
      when: { anyOf: [{ type: 'string', format: 'date-time' }, { type: 'null' }], default: null },
      kind: { $ref: '#/$defs/Kind' },
    },
    required: ['id', 'kind'],
    $defs: { Kind: { title: 'Kind', type: 'string', enum: ['a', 'b'] } },
  };
  fs.writeFileSync(schemasPath, JSON.stringify({
    errorCodes: ['NOT_FOUND'],
    methods: {
      'thing:get': {
        summary: 'Get a thing.',
        params: { type: 'object', properties: { id: { type: 'string' }, opts: { anyOf: [{ type: 'object', additionalProperties: { type: 'integer' } }, { type: 'null' }], default: null } }, required: ['id'] },
        positional: ['id', 'opts'], singleObject: false,
        result: { anyOf: [{ $ref: '#/$defs/Thing' }, { type: 'null' }], $defs: { Thing: org, Kind: org.$defs.Kind } },
        errors: ['NOT_FOUND'],
      },
      'thing:make': {
        params: { title: 'MakeParams', type: 'object', properties: { config: { type: 'string' } }, required: ['config'] },
        positional: ['config'], singleObject: true, result: org, errors: [],
      },
      'thing:pair': { params: { type: 'object', properties: {} }, positional: [], result: { type: 'array', prefixItems: [{ type: 'integer' }, { type: 'boolean' }] } },
    },
    notifications: {
      'thing:changed': { title: 'ThingChanged', type: 'object', properties: { thing: { $ref: '#/$defs/Thing' }, n: { type: 'integer', default: 0 } }, required: ['thing'], $defs: { Thing: org, Kind: org.$defs.Kind } },
    },
  }));
  const r = spawnSync(python, [GEN, '--schemas', schemasPath, '--output', out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const text = fs.readFileSync(out, 'utf8');
  assert.match(text, /export type Kind = "a" \| "b";/);
  assert.match(text, /export interface Thing \{\n {2}\/\*\* pool id \*\/\n {2}id: string;\n {2}when: IsoDateTime \| null;\n {2}kind: Kind;\n\}/);
  assert.match(text, /"thing:get": \{\n {4}params: \[id: string, opts\?: Record<string, number> \| null\];\n {4}namedParams: ThingGetParams;\n {4}result: Thing \| null;\n {4}errors: "NOT_FOUND";/);
  assert.match(text, /params: \[config: ThingMakeParams\];/);
  assert.match(text, /result: \[number, boolean\];/);
  assert.match(text, /"thing:changed": ThingChanged;/);
  assert.match(text, /export interface ThingChanged \{\n {2}thing: Thing;\n {2}n: number;\n\}/, 'sent fields with defaults are present');
  assert.match(text, /export type SidecarErrorCode =\n {2}\| "NOT_FOUND";/);
  assert.equal((text.match(/export interface Thing \{/g) || []).length, 1, 'one declaration per model');

  const check = spawnSync(python, [GEN, '--schemas', schemasPath, '--output', out, '--check'], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stderr);
  fs.appendFileSync(out, '// edited by hand\n');
  const stale = spawnSync(python, [GEN, '--schemas', schemasPath, '--output', out, '--check'], { encoding: 'utf8' });
  assert.equal(stale.status, 1);
  assert.match(stale.stderr, /is stale; run `python scripts\/gen_types.py`/);
  fs.rmSync(dir, { recursive: true, force: true });
});
