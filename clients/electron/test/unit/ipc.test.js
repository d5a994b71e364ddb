'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { EventEmitter } = require('node:events');
const { registerOrgChannels, RENDERER_CHANNELS, LOCAL_CHANNELS } = require('../../ipc');
const { SidecarError } = require('../../errors');
const { FakeIpcMain, FakeWindow } = require('../helpers/fake-electron');

/** A client stand-in that records requests and answers from a table. */
class RecordingClient extends EventEmitter {
  constructor(answers = {}) {
    super();
    this.requests = [];
    this.answers = answers;
  }

  async request(method, params) {
    this.requests.push({ method, params });
    const answer = this.answers[method];
    if (answer instanceof Error) throw answer;
    return typeof answer === 'function' ? answer(params) : answer ?? null;
  }
}

test('registers exactly the renderer-facing channels, and not auth:signIn', () => {
  const ipcMain = new FakeIpcMain();
  registerOrgChannels(ipcMain, new RecordingClient(), () => []);
  assert.deepEqual([...ipcMain.handlers.keys()].sort(), [...RENDERER_CHANNELS, LOCAL_CHANNELS.state, LOCAL_CHANNELS.restart].sort());
  for (const c of ['org:list', 'org:status', 'org:claim', 'org:release', 'org:discover', 'org:register', 'org:remove',
    'auth:session', 'auth:signOut', 'governance:home', 'governance:overview', 'governance:reapplyDefaults']) {
    assert.ok(ipcMain.handlers.has(c), c);
  }
  assert.equal(ipcMain.handlers.has('auth:signIn'), false);
  assert.equal(ipcMain.handlers.has('agent:provision'), false);
  assert.equal(ipcMain.handlers.has('org:checkAccess'), false);
  assert.equal(ipcMain.handlers.has('agent:loginUrl'), false, 'the login URL never goes to a renderer');
  assert.equal(ipcMain.handlers.has('agent:open'), false, 'no Open channel without the app\'s callback');
});

test('agent:open hands a fresh login URL to the app\'s callback; the renderer gets the org, never the URL', async () => {
  const url = 'https://qa1.scratch.my.salesforce.com/secur/frontdoor.jsp?otp=SECRET123&startURL=%2F';
  const org = { id: 'org_1', alias: 'qa1' };
  const client = new RecordingClient({ 'agent:loginUrl': () => ({ loginUrl: url, org }) });
  const ipcMain = new FakeIpcMain();
  const opened = [];
  let fail = false;
  registerOrgChannels(ipcMain, client, () => [], {
    openLoginUrl: (u, info) => {
      if (fail) throw new Error(`cannot open ${u}`);
      opened.push({ u, agentId: info.agentId, alias: info.org.alias, hasEvent: Boolean(info.event) });
    },
  });
  const win = new FakeWindow();
  const answer = await ipcMain.invoke(win.webContents, 'agent:open', 'agent-1');
  assert.deepEqual(answer, { opened: true, org });
  assert.deepEqual(client.requests.at(-1), { method: 'agent:loginUrl', params: ['agent-1'] });
  assert.deepEqual(opened, [{ u: url, agentId: 'agent-1', alias: 'qa1', hasEvent: true }]);
  assert.deepEqual(await ipcMain.invoke(win.webContents, 'sidecar:state'), { state: 'running', canOpenOrgs: true });
  fail = true; // the app's own error quotes the URL: it must not cross to the renderer
  await assert.rejects(ipcMain.invoke(win.webContents, 'agent:open', 'agent-1'), (err) => {
    assert.match(err.message, /\[OPEN_FAILED\] The app could not open qa1\./);
    assert.doesNotMatch(err.message, /SECRET123|frontdoor/);
    return true;
  });
});

test('sidecar:restart calls the client\'s restart; restarting is pushed to the windows', async () => {
  const client = new RecordingClient();
  client.state = 'failed';
  client.restart = async () => {
    client.state = 'running';
  };
  const ipcMain = new FakeIpcMain();
  const win = new FakeWindow();
  registerOrgChannels(ipcMain, client, () => [win]);
  assert.deepEqual(await ipcMain.invoke(win.webContents, 'sidecar:state'), { state: 'failed', canOpenOrgs: false });
  assert.deepEqual(await ipcMain.invoke(win.webContents, 'sidecar:restart'), { state: 'running' });
  client.emit('restarting', { attempt: 2, delayMs: 500 });
  assert.deepEqual(win.webContents.sent.at(-1), { channel: 'sidecar:state', payload: { state: 'restarting', attempt: 2, delayMs: 500 } });
});

test('invoke arguments become positional params of the same method', async () => {
  const ipcMain = new FakeIpcMain();
  const client = new RecordingClient({ 'org:claim': (p) => ({ id: '1', assignedAgentId: p[0] }) });
  registerOrgChannels(ipcMain, client, () => []);
  const win = new FakeWindow();
  assert.deepEqual(await ipcMain.invoke(win.webContents, 'org:claim', 'agent-1'), { id: '1', assignedAgentId: 'agent-1' });
  await ipcMain.invoke(win.webContents, 'org:register', 'qa1', { expiresAt: '2030-01-01T00:00:00Z' });
  await ipcMain.invoke(win.webContents, 'org:list');
  assert.deepEqual(client.requests, [
    { method: 'org:claim', params: ['agent-1'] },
    { method: 'org:register', params: ['qa1', { expiresAt: '2030-01-01T00:00:00Z' }] },
    { method: 'org:list', params: [] },
  ]);
});

test('errors cross invoke as "[CODE] message"', async () => {
  const ipcMain = new FakeIpcMain();
  const client = new RecordingClient({
    'org:remove': new SidecarError('qa1 is leased to agent-1; pass {force: true}', { code: 'ORG_LEASED', rpcCode: -32004 }),
    'org:list': new Error('no code at all'),
  });
  registerOrgChannels(ipcMain, client, () => []);
  const wc = new FakeWindow().webContents;
  await assert.rejects(ipcMain.invoke(wc, 'org:remove', '1'), {
    message: "Error invoking remote method 'org:remove': Error: [ORG_LEASED] qa1 is leased to agent-1; pass {force: true}",
  });
  await assert.rejects(ipcMain.invoke(wc, 'org:list'), { message: /Error: \[INTERNAL\] no code at all$/ });
});

test('validateSender can refuse a frame', async () => {
  const ipcMain = new FakeIpcMain();
  const client = new RecordingClient();
  registerOrgChannels(ipcMain, client, () => [], {
    validateSender: (event) => event.senderFrame.url.startsWith('app://sweatshop/'),
  });
  await ipcMain.invoke(new FakeWindow('app://sweatshop/x').webContents, 'org:list');
  await assert.rejects(ipcMain.invoke(new FakeWindow('https://evil.example/').webContents, 'org:list'),
    { message: /\[ACCESS_DENIED\] This window may not call org:list\./ });
  assert.equal(client.requests.length, 1);
});

test('notifications go to every live window with webContents.send; destroyed ones are skipped', () => {
  const ipcMain = new FakeIpcMain();
  const client = new RecordingClient();
  const a = new FakeWindow();
  const b = new FakeWindow();
  const gone = new FakeWindow();
  gone.destroyed = true;
  const goneContents = new FakeWindow();
  goneContents.webContents.destroyed = true;
  const plainContents = new FakeWindow().webContents; // a WebContents passed directly
  registerOrgChannels(ipcMain, client, () => [a, b, gone, goneContents, plainContents]);
  const change = { reason: 'claimed', org: { id: '1' }, status: { available: 0 } };
  client.emit('notification', 'org:changed', change);
  client.emit('notification', 'agent:status', { agentId: 'a', status: 'QA_READY' });
  client.emit('notification', 'some:future', { x: 1 });
  for (const wc of [a.webContents, b.webContents, plainContents]) {
    assert.deepEqual(wc.sent.map((s) => s.channel), ['org:changed', 'agent:status', 'some:future']);
    assert.deepEqual(wc.sent[0].payload, change);
  }
  assert.equal(gone.webContents.sent.length, 0);
  assert.equal(goneContents.webContents.sent.length, 0);
});

test('a forward filter limits what reaches the windows', () => {
  const client = new RecordingClient();
  const a = new FakeWindow();
  registerOrgChannels(new FakeIpcMain(), client, () => [a], { forward: (m) => m.startsWith('org:') });
  client.emit('notification', 'terminal:output', { agentId: 'x', data: 'secret-ish' });
  client.emit('notification', 'org:changed', {});
  assert.deepEqual(a.webContents.sent.map((s) => s.channel), ['org:changed']);
});

test('sidecar lifecycle reaches the windows on sidecar:state', () => {
  const client = new RecordingClient();
  const a = new FakeWindow();
  registerOrgChannels(new FakeIpcMain(), client, () => [a]);
  client.emit('exit', { pid: 1, code: null, signal: 'SIGKILL', expected: false });
  client.emit('exit', { pid: 2, code: 0, signal: null, expected: true });
  client.emit('restarted', { attempt: 1, pid: 3 });
  client.emit('gave-up', { attempts: 10 });
  assert.deepEqual(a.webContents.sent, [
    { channel: 'sidecar:state', payload: { state: 'exited', code: null, signal: 'SIGKILL' } },
    { channel: 'sidecar:state', payload: { state: 'running', attempt: 1 } },
    { channel: 'sidecar:state', payload: { state: 'failed', attempts: 10 } },
  ]);
});

test('dispose removes the handlers and the listeners', () => {
  const ipcMain = new FakeIpcMain();
  const client = new RecordingClient();
  const dispose = registerOrgChannels(ipcMain, client, () => []);
  assert.ok(client.listenerCount('notification') > 0);
  dispose();
  assert.equal(ipcMain.handlers.size, 0);
  for (const e of ['notification', 'exit', 'restarted', 'gave-up']) assert.equal(client.listenerCount(e), 0, e);
  // registering again works (no "second handler" error)
  registerOrgChannels(ipcMain, client, () => []);
});
