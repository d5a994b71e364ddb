'use strict';
/**
 * The client against the real Python sidecar (python -m sidecar, the fake `sf`, a real SQLite file in a fresh
 * home per test). Skips when the sidecar cannot be imported, unless SWEATSHOP_REQUIRE_SIDECAR=1.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const { SidecarClient, SidecarError } = require('../../sidecar-client');
const { registerOrgChannels } = require('../../ipc');
const { buildSweatshopApi } = require('../../preload');
const { FakeIpcMain, FakeWindow, fakeIpcRenderer } = require('../helpers/fake-electron');
const { isAlive, waitFor, nextEvent, processesMentioning } = require('../helpers/processes');
const { sidecarSkip, makeHome, realOptions, FAKE_SF } = require('../helpers/sidecar-env');

const skip = sidecarSkip();

/**
 * A client on a fresh home; closed and cleaned up after the test, and checked to leave no process behind.
 * @param {import('node:test').TestContext} t
 * @param {Parameters<typeof makeHome>[0]} [homeOptions]
 * @param {object} [clientOptions]
 */
function setup(t, homeOptions, clientOptions = {}) {
  const h = makeHome(homeOptions);
  const client = new SidecarClient(realOptions(h, clientOptions));
  const stderr = [];
  client.on('stderr', (line) => stderr.push(line));
  t.after(async () => {
    await client.close();
    const left = processesMentioning(h.home);
    h.cleanup();
    assert.deepEqual(left, [], `processes left behind for ${h.home}`);
  });
  return { client, h, stderr };
}

/** Collects notifications by method. */
function recorder(client) {
  const seen = [];
  client.on('notification', (method, params) => seen.push({ method, params }));
  return seen;
}

test('requests, results and the indicator for 0, 1 and several available orgs', { skip }, async (t) => {
  const { client } = setup(t, { orgPool: { maxOrgs: 4 } });
  const health = await client.checkProtocol('1');
  assert.equal(health.sf.path, FAKE_SF);
  let status = await client.request('org:status');
  assert.deepEqual(status.indicator, { label: 'Orgs: 0/4 available', level: 'red' });
  const first = await client.request('org:register', ['qa1']);
  assert.equal(first.alias, 'qa1');
  assert.equal(first.status, 'available');
  assert.equal(first.source, 'manual');
  assert.match(first.expiresAt, /^\d{4}-\d\d-\d\dT/);
  status = await client.request('org:status');
  assert.deepEqual(status.indicator, { label: 'Orgs: 1/4 available', level: 'yellow' });
  await client.request('org:register', ['qa2', { expiresAt: '2031-01-01T00:00:00Z' }]);
  await client.request('org:register', { alias: 'qa3' }); // by name
  status = await client.request('org:status');
  assert.deepEqual(status, {
    total: 3, available: 3, leased: 0, expired: 0, expiringSoon: 0, maxOrgs: 4,
    indicator: { label: 'Orgs: 3/4 available', level: 'green' },
    // Hand-registered orgs have no shape: one row for the unknown shape.
    byShape: [{ shape: null, definitionName: null, total: 3, available: 3, leased: 0, expired: 0, expiringSoon: 0 }],
  });
  const list = await client.request('org:list');
  assert.deepEqual(list.map((o) => o.alias), ['qa1', 'qa2', 'qa3']);
  const claimed = await client.request('org:claim', ['agent-1']);
  assert.equal(claimed.assignedAgentId, 'agent-1');
  assert.equal(claimed.status, 'leased');
  assert.deepEqual(await client.request('org:claim', ['agent-1']), claimed, 'a second claim returns the same org');
  assert.equal((await client.request('org:lease', ['agent-1'])).id, claimed.id);
  assert.equal(await client.request('org:release', [claimed.id, 'agent-1']), null);
  assert.equal((await client.request('org:status')).available, 3);
});

test('errors reject with SidecarError and the sidecar\'s codes', { skip }, async (t) => {
  const { client } = setup(t, { orgPool: { maxOrgs: 2 } });
  await client.request('org:register', ['qa1']);
  const expectCode = async (promise, code, rpcCode) => {
    await assert.rejects(promise, (e) => {
      assert.ok(e instanceof SidecarError, `${e}`);
      assert.equal(e.code, code, e.message);
      if (rpcCode !== undefined) assert.equal(e.rpcCode, rpcCode);
      assert.equal(typeof e.message, 'string');
      assert.ok(e.message.length > 10, 'a message a person can act on');
      assert.equal(e.data.code, code);
      return true;
    });
  };
  await expectCode(client.request('org:register', ['qa1']), 'ALREADY_EXISTS');
  for (const hostile of ['-o prod', 'a;rm -rf ~', '../x']) {
    await expectCode(client.request('org:register', [hostile]), 'INVALID_PARAMS', -32602);
  }
  await expectCode(client.request('org:claim', []), 'INVALID_PARAMS', -32602);
  await expectCode(client.request('org:claim', [42]), 'INVALID_PARAMS', -32602);
  await client.request('org:register', ['qa2']);
  await expectCode(client.request('org:register', ['qa3']), 'CAPACITY_REACHED');
  await expectCode(client.request('org:release', ['org_nope']), 'NOT_FOUND');
  await client.request('org:claim', ['agent-1']);
  const leased = (await client.request('org:list')).find((o) => o.status === 'leased');
  await expectCode(client.request('org:release', [leased.id, 'agent-2']), 'ACCESS_DENIED');
  await expectCode(client.request('org:checkAccess', ['agent-2', leased.alias]), 'ACCESS_DENIED');
  await expectCode(client.request('org:remove', [leased.id]), 'ORG_LEASED');
  await expectCode(client.request('no:such:method'), 'METHOD_NOT_FOUND', -32601);
  // after all that, it still serves
  assert.equal(await client.request('org:remove', [leased.id, { force: true }]), null);
  const left = await client.request('org:list');
  assert.equal(left.length, 1);
  assert.notEqual(left[0].id, leased.id);
});

test('org:changed notifications for every change, with the status', { skip }, async (t) => {
  const { client } = setup(t);
  const seen = recorder(client);
  const org = await client.request('org:register', ['qa1']);
  await client.request('org:claim', ['agent-1']);
  await client.request('org:release', [org.id]);
  await client.request('org:remove', [org.id]);
  await waitFor(() => seen.filter((n) => n.method === 'org:changed').length >= 4, { what: '4 org:changed' });
  const changes = seen.filter((n) => n.method === 'org:changed').map((n) => n.params);
  assert.deepEqual(changes.map((c) => c.reason), ['registered', 'claimed', 'released', 'removed']);
  assert.deepEqual(changes.map((c) => c.status.indicator.label),
    ['Orgs: 1/4 available', 'Orgs: 0/4 available', 'Orgs: 1/4 available', 'Orgs: 0/4 available']);
  assert.equal(changes[1].org.assignedAgentId, 'agent-1');
  // the per-method event carries the same params
  const named = nextEvent(client, 'org:changed');
  await client.request('org:register', ['qa2']);
  assert.equal((await named).org.alias, 'qa2');
});

test('org:discover with the fake sf: the pool and an org:discovery notification', { skip }, async (t) => {
  const { client } = setup(t, {
    orgPool: { maxOrgs: 2 },
    sfOrgs: ['qa1', 'qa2', 'qa3'].map((alias, i) => ({
      alias, username: `${alias}@example.com`, orgId: `00D00000000000${i}AAA`,
      instanceUrl: `https://${alias}.my.salesforce.com`, expirationDate: '2031-01-01', status: 'Active',
    })),
  });
  const seen = recorder(client);
  const pool = await client.request('org:discover');
  assert.equal(pool.length, 2, 'registers up to maxOrgs');
  assert.ok(pool.every((o) => o.source === 'discovered' && o.status === 'available'));
  await waitFor(() => seen.some((n) => n.method === 'org:discovery'), { what: 'org:discovery' });
  const report = seen.find((n) => n.method === 'org:discovery').params;
  assert.equal(report.registered.length, 2);
  assert.equal(report.skipped.length, 1);
  assert.match(report.skipped[0].reason, /\S/);
});

test('50 concurrent claims over one client for 4 orgs: exactly 4 distinct winners', { skip }, async (t) => {
  const { client } = setup(t);
  for (const a of ['qa1', 'qa2', 'qa3', 'qa4']) await client.request('org:register', [a]);
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => client.request('org:claim', [`agent-${i}`])));
  const winners = results.filter(Boolean);
  assert.equal(winners.length, 4);
  assert.equal(new Set(winners.map((o) => o.id)).size, 4);
  assert.equal(new Set(winners.map((o) => o.assignedAgentId)).size, 4);
});

test('a killed sidecar: the request in flight rejects, it restarts with backoff, the pool survives', { skip }, async (t) => {
  const { client } = setup(t, {}, { restart: { initialDelayMs: 100 } });
  const org = await client.request('org:register', ['qa1']);
  await client.request('org:claim', ['agent-1']);
  const firstPid = client.pid;
  const exit = nextEvent(client, 'exit');
  const restarting = nextEvent(client, 'restarting');
  const restarted = nextEvent(client, 'restarted', 15_000);
  const inFlight = client.request('org:list');
  process.kill(firstPid, 'SIGKILL');
  await assert.rejects(inFlight, (e) => {
    assert.equal(e.code, 'SIDECAR_EXITED');
    assert.match(e.message, /The sidecar was killed by SIGKILL before it answered "org:list"; it is being restarted/);
    return true;
  });
  assert.equal((await exit).signal, 'SIGKILL');
  assert.equal((await restarting).delayMs, 100);
  const info = await restarted;
  assert.notEqual(info.pid, firstPid);
  assert.equal(isAlive(firstPid), false);
  const orgs = await client.request('org:list');
  assert.equal(orgs.length, 1);
  assert.equal(orgs[0].id, org.id);
  assert.equal(orgs[0].assignedAgentId, 'agent-1', 'the lease survived kill -9');
});

test('close(): stdin EOF, the sidecar exits 0 on its own, no process is left', { skip }, async (t) => {
  const { client, h } = setup(t);
  await client.request('org:register', ['qa1']);
  const pid = client.pid;
  assert.ok(isAlive(pid));
  const exit = nextEvent(client, 'exit');
  const started = Date.now();
  await client.close();
  const took = Date.now() - started;
  const info = await exit;
  assert.equal(info.code, 0, 'exited by itself on EOF, not killed');
  assert.equal(info.expected, true);
  assert.ok(took < 2000, `took ${took} ms`);
  assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
  assert.deepEqual(processesMentioning(h.home), []);
});

test('content-length framing against the real sidecar', { skip }, async (t) => {
  const { client } = setup(t, {}, { framing: 'content-length' });
  const seen = recorder(client);
  await client.request('org:register', ['qa-é'.replace('é', 'e')]);
  assert.equal((await client.request('org:status')).available, 1);
  await waitFor(() => seen.length === 1);
});

test('through ipc.js and preload.js (Electron-like IPC): results, codes and notifications', { skip }, async (t) => {
  const { client } = setup(t, { orgPool: { maxOrgs: 1 } });
  const ipcMain = new FakeIpcMain();
  const win = new FakeWindow();
  const dispose = registerOrgChannels(ipcMain, client, () => [win]);
  t.after(dispose);
  const api = buildSweatshopApi(fakeIpcRenderer(ipcMain, win));
  const changes = [];
  const off = api.orgs.onChanged((c) => changes.push(c));
  const org = await api.orgs.register('qa1');
  await assert.rejects(api.orgs.register('qa2'), (e) => e.code === 'CAPACITY_REACHED' && e.message.startsWith('[CAPACITY_REACHED] '));
  assert.equal((await api.orgs.claim('agent-1')).id, org.id);
  assert.equal(await api.orgs.claim('agent-2'), null);
  await assert.rejects(api.orgs.remove(org.id), { code: 'ORG_LEASED' });
  await api.orgs.release(org.id);
  assert.deepEqual((await api.orgs.getStatus()).indicator, { label: 'Orgs: 1/1 available', level: 'yellow' });
  await waitFor(() => changes.length === 3, { what: '3 changes' });
  off();
  await api.orgs.remove(org.id);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(changes.length, 3, 'unsubscribed');
  assert.deepEqual(win.webContents.sent.map((s) => s.channel), ['org:changed', 'org:changed', 'org:changed', 'org:changed']);
});

test('governance: sign-in in main, the session, effective capacity, codes, and governance:changed', { skip }, async (t) => {
  const { client } = setup(t, { orgPool: { maxOrgs: 10 } });
  const seen = recorder(client);
  assert.deepEqual(await client.request('auth:session'), { authenticated: false });
  assert.equal((await client.request('org:status')).maxOrgs, 10, 'signed out: the settings alone');
  await assert.rejects(client.request('governance:home'), { code: 'NOT_AUTHENTICATED' });

  const claims = { iss: 'https://id.example', sub: 'u-1', email: 'carlos@example.com', name: 'Carlos', preferred_username: 'cgalo', roles: [] };
  const signedIn = await client.request('auth:signIn', [{ claims, idToken: 'header.payload.signature' }]);
  assert.equal(signedIn.authenticated, true);
  assert.equal(signedIn.firstLogin, true);
  const session = await client.request('auth:session');
  assert.equal(session.email, 'carlos@example.com');
  assert.equal(JSON.stringify(session).includes('header.payload.signature'), false, 'the ID token never comes back');
  assert.equal((await client.request('org:status')).maxOrgs, 4, 'capacity = min(maxOrgs, scratchOrgs.maxActive)');
  const home = await client.request('governance:home');
  assert.equal(home.view, 'solo');
  assert.equal(home.pool.entitlements['scratchOrgs.maxActive'], 4);
  await assert.rejects(client.request('governance:overview'), { code: 'ACCESS_DENIED' });
  await assert.rejects(client.request('governance:reapplyDefaults', [home.pool.id]), { code: 'ACCESS_DENIED' });
  await waitFor(() => seen.some((n) => n.method === 'governance:changed'), { what: 'governance:changed' });
  assert.equal(seen.find((n) => n.method === 'governance:changed').params.status.maxOrgs, 4);

  await client.request('auth:signOut');
  assert.equal((await client.request('org:status')).maxOrgs, 10);
  const again = await client.request('auth:signIn', [{ claims: { ...claims, roles: ['operator'] } }]);
  assert.equal(again.firstLogin, false, 'a returning subject');
  const overview = await client.request('governance:overview');
  assert.equal(overview.organizations.length, 1);
  assert.equal(overview.organizations[0].members[0].role, 'owner');
  const outcome = await client.request('governance:reapplyDefaults', [overview.organizations[0].pools[0].id]);
  assert.equal(outcome.changed, false, 'already at rank 0 of the default ladder: idempotent');
});

test('auth:signIn is not reachable from a renderer; the governance channels are', { skip }, async (t) => {
  const { client } = setup(t);
  const ipcMain = new FakeIpcMain();
  const win = new FakeWindow();
  t.after(registerOrgChannels(ipcMain, client, () => [win]));
  const api = buildSweatshopApi(fakeIpcRenderer(ipcMain, win));
  assert.equal(/** @type {any} */ (api.auth).signIn, undefined);
  await assert.rejects(ipcMain.invoke(win.webContents, 'auth:signIn', { claims: { iss: 'x', sub: 'y' } }), /No handler registered for 'auth:signIn'/);
  await assert.rejects(api.governance.home(), (e) => e.code === 'NOT_AUTHENTICATED' && e.message.startsWith('[NOT_AUTHENTICATED] '));
  const changes = [];
  api.governance.onChanged((c) => changes.push(c));
  await client.request('auth:signIn', [{ claims: { iss: 'https://id.example', sub: 'u-2', email: 'a@example.com', name: 'A', preferred_username: 'a', roles: [] } }]);
  assert.equal((await api.auth.session()).authenticated, true);
  assert.equal((await api.governance.home()).view, 'solo');
  await waitFor(() => changes.length >= 1, { what: 'governance:changed in the window' });
  assert.equal(changes[0].session.authenticated, true);
  await api.auth.signOut();
  assert.equal((await api.auth.session()).authenticated, false);
});
