'use strict';
/**
 * The README's main-process example (examples/main.ts) type-checks with `tsc --noEmit --strict` against
 * Electron's own electron.d.ts (the `electron` npm package, installed with ELECTRON_SKIP_BINARY_DOWNLOAD=1) and
 * this package's api.d.ts; the check can fail (reading `event.senderFrame.url` without a null check is refused);
 * and the README shows the example verbatim.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const EXAMPLES = path.join(ROOT, 'examples');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const skip = fs.existsSync(TSC) && fs.existsSync(path.join(ROOT, 'node_modules', 'electron', 'electron.d.ts'))
  ? false : 'typescript / electron are not installed: run npm ci in clients/electron (run-tests.sh does)';

/** @param {string} project */
const tsc = (project) => spawnSync(process.execPath, [TSC, '-p', project], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });

test('examples/main.ts type-checks under --strict against electron.d.ts', { skip }, () => {
  assert.equal(JSON.parse(fs.readFileSync(path.join(EXAMPLES, 'tsconfig.json'), 'utf8')).compilerOptions.strict, true);
  const r = tsc(path.join(EXAMPLES, 'tsconfig.json'));
  assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
});

test('the check fails on a validateSender that ignores a null senderFrame', { skip }, (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sweatshop-tsc-'));
  const bad = path.join(EXAMPLES, `.bad-${process.pid}.ts`);
  t.after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(bad, { force: true });
  });
  const source = fs.readFileSync(path.join(EXAMPLES, 'main.ts'), 'utf8');
  const broken = source.replace(/validateSender: \(event\) => \{[\s\S]*?\n {4}\},/, "validateSender: (event) => new URL(event.senderFrame.url).protocol === 'file:',");
  assert.notEqual(broken, source, 'the example has the validateSender to break');
  fs.writeFileSync(bad, broken);
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ extends: path.join(EXAMPLES, 'tsconfig.json'), files: [bad] }));
  const r = tsc(path.join(dir, 'tsconfig.json'));
  assert.notEqual(r.status, 0);
  assert.match(r.stdout, /TS18047: 'event\.senderFrame' is possibly 'null'/);
});

test('the README shows examples/main.ts verbatim', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const source = fs.readFileSync(path.join(EXAMPLES, 'main.ts'), 'utf8');
  assert.ok(readme.includes(`\`\`\`ts\n${source}\`\`\``), 'README.md has a ```ts block equal to examples/main.ts');
});
