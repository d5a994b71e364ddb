'use strict';
/**
 * Cancellation against the real sidecar and a hung fake `sf` (scenario `hang`: it never answers and holds a
 * `sleep` child): a request that times out, or whose AbortSignal aborts, sends `$/cancelRequest`, and the sidecar
 * kills the `sf` process group. Measured from the moment the client gave up on the request.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const { SidecarClient } = require('../../sidecar-client');
const { waitFor, processesMentioning, processesWithEnv } = require('../helpers/processes');
const { sidecarSkip, makeHome, realOptions } = require('../helpers/sidecar-env');

const skip = sidecarSkip();

/**
 * A sidecar whose `sf org list` hangs; `sfProcesses()` lists the fake sf and its children.
 * @param {import('node:test').TestContext} t
 */
async function hungSf(t) {
  const h = makeHome();
  h.writeSfState({ orgs: [], noise: false, scenarios: { 'org list': 'hang' } });
  const client = new SidecarClient(realOptions(h));
  /** @type {{method: string, params: unknown}[]} */
  const sent = [];
  const write = client._write.bind(client);
  // Record what goes over the wire (the frames themselves are written unchanged).
  client._write = (frame) => {
    sent.push(JSON.parse(frame.toString('utf8')));
    write(frame);
  };
  t.after(async () => {
    await client.close();
    const left = processesMentioning(h.home);
    h.cleanup();
    assert.deepEqual(left, [], `processes left behind for ${h.home}`);
  });
  await client.checkProtocol('1');
  const sfProcesses = () => processesWithEnv('SF_FAKE_STATE', h.statePath).filter((p) => p.pid !== client.pid);
  return { client, sent, sfProcesses };
}

test('a request that times out is cancelled: the hung sf is gone within 2 s', { skip }, async (t) => {
  const { client, sent, sfProcesses } = await hungSf(t);
  const discovering = client.request('org:discover', [], { timeoutMs: 2500 });
  // the sf process really runs (so the check below can fail)
  const running = await waitFor(() => (sfProcesses().length >= 2 ? sfProcesses() : null), { timeoutMs: 5000, what: 'the hung sf and its child' });
  assert.ok(running.some((p) => /fakesf\/bin\/sf org list/.test(p.cmdline)), JSON.stringify(running));
  await assert.rejects(discovering, { code: 'REQUEST_TIMEOUT' });
  const gaveUpAt = Date.now();
  const id = sent.find((m) => m.method === 'org:discover').id;
  assert.deepEqual(sent.filter((m) => m.method === '$/cancelRequest'), [{ jsonrpc: '2.0', method: '$/cancelRequest', params: { id } }]);
  await waitFor(() => sfProcesses().length === 0, { timeoutMs: 2000, intervalMs: 25, what: 'the sf process group to be gone' });
  t.diagnostic(`sf gone ${Date.now() - gaveUpAt} ms after the timeout`);
  // the sidecar keeps serving
  assert.equal((await client.request('org:status')).total, 0);
});

test('a request whose AbortSignal aborts is cancelled the same way', { skip }, async (t) => {
  const { client, sent, sfProcesses } = await hungSf(t);
  const controller = new AbortController();
  const discovering = client.request('org:discover', [], { signal: controller.signal, timeoutMs: 0 });
  await waitFor(() => sfProcesses().length >= 2, { timeoutMs: 5000, what: 'the hung sf' });
  controller.abort(new Error('the person closed the window'));
  await assert.rejects(discovering, (err) => {
    assert.equal(err.code, 'REQUEST_ABORTED');
    assert.match(err.message, /cancelled by its caller: the person closed the window/);
    return true;
  });
  const abortedAt = Date.now();
  assert.equal(sent.filter((m) => m.method === '$/cancelRequest').length, 1);
  await waitFor(() => sfProcesses().length === 0, { timeoutMs: 2000, intervalMs: 25, what: 'the sf process group to be gone' });
  t.diagnostic(`sf gone ${Date.now() - abortedAt} ms after the abort`);
  // an already aborted signal sends nothing at all
  const before = sent.length;
  await assert.rejects(client.request('org:discover', [], { signal: AbortSignal.abort() }), { code: 'REQUEST_ABORTED' });
  assert.equal(sent.length, before);
});
