'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { SidecarError, fromRpcError, toIpcError, decodeIpcError } = require('../../errors');
const preload = require('../../preload');

test('fromRpcError keeps data.code, the numeric code, the data and the method', () => {
  const e = fromRpcError({ code: -32003, message: 'The pool is full', data: { code: 'CAPACITY_REACHED', maxOrgs: 4 } }, 'org:register');
  assert.ok(e instanceof SidecarError);
  assert.ok(e instanceof Error);
  assert.equal(e.code, 'CAPACITY_REACHED');
  assert.equal(e.rpcCode, -32003);
  assert.deepEqual(e.data, { code: 'CAPACITY_REACHED', maxOrgs: 4 });
  assert.equal(e.method, 'org:register');
  assert.equal(e.message, 'The pool is full');
});

test('fromRpcError falls back to the standard code names, then INTERNAL', () => {
  assert.equal(fromRpcError({ code: -32601, message: 'x' }).code, 'METHOD_NOT_FOUND');
  assert.equal(fromRpcError({ code: -32602, message: 'x', data: 'not an object' }).code, 'INVALID_PARAMS');
  assert.equal(fromRpcError({ code: -32099, message: 'x' }).code, 'INTERNAL');
});

/** What Electron does to an error thrown in an ipcMain.handle handler, as the renderer sees it. */
const throughElectronInvoke = (err, channel) => new Error(`Error invoking remote method '${channel}': ${err}`);

for (const [name, decode] of [['errors.decodeIpcError', decodeIpcError], ['preload.decodeIpcError', preload.decodeIpcError]]) {
  test(`${name}: the code survives ipcMain.handle -> invoke`, () => {
    const original = new SidecarError('org qa1 is leased to agent-1', { code: 'ORG_LEASED', rpcCode: -32004 });
    const seen = throughElectronInvoke(toIpcError(original), 'org:remove');
    const e = decode(seen);
    assert.ok(e instanceof Error);
    assert.equal(e.code, 'ORG_LEASED');
    assert.equal(e.detail, 'org qa1 is leased to agent-1');
    // The message keeps the prefix: contextBridge copies only the message into the page.
    assert.equal(e.message, '[ORG_LEASED] org qa1 is leased to agent-1');
  });

  test(`${name}: multi-line messages and brackets in the text`, () => {
    const seen = throughElectronInvoke(toIpcError({ code: 'SF_FAILED', message: 'sf said:\n[x] bad' }), 'org:discover');
    const e = decode(seen);
    assert.equal(e.code, 'SF_FAILED');
    assert.equal(e.detail, 'sf said:\n[x] bad');
  });

  test(`${name}: an error without a code becomes INTERNAL with Electron's prefix removed`, () => {
    const e = decode(new Error("Error invoking remote method 'org:list': Error: something broke"));
    assert.equal(e.code, 'INTERNAL');
    assert.equal(e.detail, 'something broke');
  });
}

test('toIpcError refuses codes that are not CODE_LIKE', () => {
  assert.equal(toIpcError({ code: 'ENOENT', message: 'm' }).message, '[ENOENT] m');
  assert.equal(toIpcError({ code: 'bad code]', message: 'm' }).message, '[INTERNAL] m');
  assert.equal(toIpcError('plain string').message, '[INTERNAL] plain string');
});
