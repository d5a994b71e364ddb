'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const Module = require('node:module');
const path = require('node:path');
const { buildSweatshopApi, exposeSweatshopApi } = require('../../preload');
const { registerOrgChannels } = require('../../ipc');
const { SidecarClient } = require('../../sidecar-client');
const { FakeIpcMain, FakeWindow, fakeIpcRenderer } = require('../helpers/fake-electron');
const { standInOptions, waitFor } = require('../helpers/processes');

/** An ipcRenderer that records invokes and answers from a function. */
function recordingRenderer(answer = () => null) {
  const listeners = new Map();
  return {
    invokes: [],
    listeners,
    async invoke(channel, ...args) {
      this.invokes.push([channel, ...args]);
      return answer(channel, args);
    },
    on(channel, l) {
      if (!listeners.has(channel)) listeners.set(channel, new Set());
      listeners.get(channel).add(l);
    },
    removeListener(channel, l) {
      listeners.get(channel)?.delete(l);
    },
    emit(channel, payload) {
      for (const l of listeners.get(channel) ?? []) l({ sender: 'ipcRenderer' }, payload);
    },
  };
}

test('the API of the specification maps to the channels and arguments', async () => {
  const r = recordingRenderer();
  const api = buildSweatshopApi(r);
  await api.orgs.list();
  await api.orgs.getStatus();
  await api.orgs.claim('agent-1');
  await api.orgs.release('7');
  await api.orgs.release('7', 'agent-1');
  await api.orgs.discover();
  await api.orgs.register('qa1');
  await api.orgs.register('qa2', { expiresAt: '2030-01-01T00:00:00Z' });
  await api.orgs.remove('7');
  await api.orgs.remove('7', { force: true });
  await api.auth.session();
  await api.auth.signOut();
  await api.governance.home();
  await api.governance.overview();
  await api.governance.reapplyDefaults('pool-1');
  await api.agents.open('agent-1');
  await api.sidecar.state();
  await api.sidecar.restart();
  assert.deepEqual(r.invokes, [
    ['org:list'], ['org:status'], ['org:claim', 'agent-1'], ['org:release', '7'], ['org:release', '7', 'agent-1'],
    ['org:discover'], ['org:register', 'qa1'], ['org:register', 'qa2', { expiresAt: '2030-01-01T00:00:00Z' }],
    ['org:remove', '7'], ['org:remove', '7', { force: true }], ['auth:session'], ['auth:signOut'],
    ['governance:home'], ['governance:overview'], ['governance:reapplyDefaults', 'pool-1'],
    ['agent:open', 'agent-1'], ['sidecar:state'], ['sidecar:restart'],
  ]);
});

test('nothing of ipcRenderer reaches the page: only functions and plain objects, no event objects', () => {
  const r = recordingRenderer();
  const api = buildSweatshopApi(r);
  const seen = new Set();
  const walk = (o) => {
    for (const [k, v] of Object.entries(o)) {
      assert.ok(typeof v === 'function' || (v && typeof v === 'object'), k);
      assert.notEqual(v, r);
      if (typeof v === 'object') walk(v);
      else seen.add(k);
    }
  };
  walk(api);
  assert.ok(!seen.has('invoke') && !seen.has('on') && !seen.has('send'));
  const payloads = [];
  api.orgs.onChanged((...args) => payloads.push(args));
  r.emit('org:changed', { reason: 'claimed' });
  assert.deepEqual(payloads, [[{ reason: 'claimed' }]], 'the callback gets the payload only');
});

test('onChanged and friends return an unsubscribe function', () => {
  const r = recordingRenderer();
  const api = buildSweatshopApi(r);
  const got = [];
  const off = api.orgs.onChanged((p) => got.push(p));
  const offStatus = api.agents.onStatus((p) => got.push(p));
  const offOutput = api.agents.onTerminalOutput((p) => got.push(p));
  const offGovernance = api.governance.onChanged((p) => got.push(p));
  r.emit('org:changed', 1);
  r.emit('agent:status', 2);
  r.emit('terminal:output', 3);
  r.emit('governance:changed', 3.5);
  off();
  off(); // twice is harmless
  offStatus();
  offOutput();
  offGovernance();
  r.emit('org:changed', 4);
  r.emit('agent:status', 5);
  r.emit('governance:changed', 6);
  assert.deepEqual(got, [1, 2, 3, 3.5]);
  assert.equal(r.listeners.get('org:changed').size, 0);
  assert.throws(() => api.orgs.onChanged(/** @type {any} */ ('nope')), TypeError);
});

test('invoke errors come back with .code', async () => {
  const r = recordingRenderer(() => {
    throw new Error("Error invoking remote method 'org:claim': Error: [ACCESS_DENIED] agent-2 does not hold qa1");
  });
  const api = buildSweatshopApi(r);
  await assert.rejects(api.orgs.claim('agent-2'), (e) => {
    assert.ok(e instanceof Error);
    assert.equal(e.code, 'ACCESS_DENIED');
    assert.equal(e.detail, 'agent-2 does not hold qa1');
    return true;
  });
});

test('as an Electron preload it exposes window.sweatshop through contextBridge, and only that', () => {
  const exposed = [];
  const fakeElectron = {
    contextBridge: { exposeInMainWorld: (key, api) => exposed.push([key, api]) },
    ipcRenderer: recordingRenderer(),
  };
  // Load preload.js fresh with require('electron') answered by the fake.
  const file = require.resolve('../../preload');
  const originalLoad = Module._load;
  Module._load = function load(request, ...rest) {
    if (request === 'electron') return fakeElectron;
    return originalLoad.call(this, request, ...rest);
  };
  try {
    delete require.cache[file];
    require(file);
  } finally {
    Module._load = originalLoad;
    delete require.cache[file];
  }
  assert.equal(exposed.length, 1);
  assert.equal(exposed[0][0], 'sweatshop');
  assert.deepEqual(Object.keys(exposed[0][1]).sort(), ['agents', 'auth', 'governance', 'orgs', 'sidecar']);
  assert.equal(exposeSweatshopApi('/path/to/electron/binary'), false, 'the npm package outside Electron is a string');
  assert.equal(path.basename(file), 'preload.js');
});

test('main + preload chained through Electron-like IPC, against the stand-in sidecar', async (t) => {
  const client = new SidecarClient(standInOptions([], { env: { STAND_IN_MAX_ORGS: '1' } }));
  t.after(() => client.close());
  const ipcMain = new FakeIpcMain();
  const win = new FakeWindow();
  registerOrgChannels(ipcMain, client, () => [win]);
  const api = buildSweatshopApi(fakeIpcRenderer(ipcMain, win));
  const changes = [];
  api.orgs.onChanged((c) => changes.push(c));
  const org = await api.orgs.register('qa1');
  assert.equal(org.alias, 'qa1');
  await assert.rejects(api.orgs.register('qa2'), (e) => e.code === 'CAPACITY_REACHED' && /pool is full/.test(e.detail));
  await api.orgs.claim('agent-1');
  await assert.rejects(api.orgs.remove(org.id), { code: 'ORG_LEASED' });
  await api.orgs.remove(org.id, { force: true });
  await waitFor(() => changes.length === 3);
  assert.deepEqual(changes.map((c) => c.reason), ['registered', 'claimed', 'removed']);
  assert.equal(changes[1].status.indicator.label, 'Orgs: 0/1 available');
  assert.equal(changes[1].status.indicator.level, 'red');
});
