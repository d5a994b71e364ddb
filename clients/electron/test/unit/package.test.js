'use strict';
/**
 * The install recipe of the README, without a registry: `npm pack` makes a tarball, an app installs it with
 * `npm install --offline <tarball>`, and then the main-process API (CommonJS), the preload and the components (ES
 * modules, also loadable in Node) resolve through the package's `exports` map.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const npm = (args, cwd) => spawnSync('npm', args, { cwd, encoding: 'utf8', timeout: 120_000, env: { ...process.env, npm_config_loglevel: 'error' } });

test('npm pack + npm install --offline: the API, the preload and the components load from the installed package', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sweatshop-pack-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const packed = npm(['pack', '--pack-destination', dir, '--json'], ROOT);
  assert.equal(packed.status, 0, packed.stderr);
  const [info] = JSON.parse(packed.stdout);
  const files = info.files.map((f) => f.path);
  for (const f of ['index.js', 'preload.js', 'components/index.js', 'components/package.json', 'components/index.d.ts', 'api.d.ts', 'types.d.ts', 'examples/main.ts']) {
    assert.ok(files.includes(f), `${f} is in the tarball`);
  }
  assert.ok(!files.some((f) => f.startsWith('test/') || f.startsWith('node_modules/')), 'no tests or dependencies in the tarball');

  const app = path.join(dir, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'some-electron-app', version: '1.0.0', private: true }));
  const installed = npm(['install', '--offline', '--no-audit', '--no-fund', path.join(dir, info.filename)], app);
  assert.equal(installed.status, 0, installed.stderr);
  const probe = `
    const api = require('@sweatshop/electron-sidecar-client');
    const preload = require.resolve('@sweatshop/electron-sidecar-client/preload');
    import('@sweatshop/electron-sidecar-client/components').then((c) => {
      console.log(JSON.stringify({
        client: typeof api.SidecarClient, register: typeof api.registerOrgChannels, preload: require('node:path').basename(preload),
        expiry: c.timeToExpiry('2030-01-01T01:30:00Z', Date.parse('2030-01-01T00:00:00Z')), label: c.entitlementText('scratchOrgs.maxActive', 4).label,
        elements: typeof c.SweatshopHome,
      }));
    });`;
  const r = spawnSync(process.execPath, ['-e', probe], { cwd: app, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    client: 'function', register: 'function', preload: 'preload.js', expiry: '1h 30m', label: 'Scratch orgs at once', elements: 'function',
  });
});
