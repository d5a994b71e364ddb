'use strict';
/**
 * The client's mechanics against the Node stand-in sidecar (fixtures/stand-in-sidecar.js): fast, and able to
 * misbehave on request (ignore EOF, ignore SIGTERM, crash at start). The same behaviour against the real Python
 * sidecar is covered in test/integration/.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const { SidecarClient, SidecarError } = require('../../sidecar-client');
const { isAlive, waitFor, nextEvent, standInOptions } = require('../helpers/processes');

/** @param {string[]} [flags] @param {object} [extra] */
function client(flags, extra) {
  const c = new SidecarClient(standInOptions(flags, extra));
  const logs = [];
  c.on('stderr', (line) => logs.push(line));
  c.logs = logs;
  return c;
}

test('requests resolve with results; ids match answers that arrive out of order', async (t) => {
  const c = client();
  t.after(() => c.close());
  await c.start();
  const slow = c.request('test:sleep', [150]);
  const fast = c.request('org:status');
  const status = await fast;
  assert.equal(status.indicator.label, 'Orgs: 0/4 available');
  assert.equal(await slow, 'slept');
  const org = await c.request('org:register', ['qa1']);
  assert.equal(org.alias, 'qa1');
  assert.deepEqual((await c.request('org:list')).map((o) => o.alias), ['qa1']);
  const named = await c.request('org:claim', { agentId: 'agent-1' });
  assert.equal(named.assignedAgentId, 'agent-1');
});

test('the first request starts the sidecar by itself', async (t) => {
  const c = client();
  t.after(() => c.close());
  assert.equal(c.state, 'idle');
  assert.equal(typeof (await c.request('test:pid')), 'number');
  assert.equal(c.state, 'running');
});

test('errors reject with SidecarError carrying data.code, the numeric code and data', async (t) => {
  const c = client([], { env: { STAND_IN_MAX_ORGS: '1' } });
  t.after(() => c.close());
  await c.request('org:register', ['qa1']);
  await assert.rejects(c.request('org:register', ['qa2']), (e) => {
    assert.ok(e instanceof SidecarError);
    assert.equal(e.code, 'CAPACITY_REACHED');
    assert.equal(e.rpcCode, -32003);
    assert.equal(e.data.maxOrgs, 1);
    assert.equal(e.method, 'org:register');
    return true;
  });
  await assert.rejects(c.request('org:register', ['-o prod']), { code: 'INVALID_PARAMS', rpcCode: -32602 });
  await assert.rejects(c.request('no:such'), { code: 'METHOD_NOT_FOUND', rpcCode: -32601 });
  await assert.rejects(c.request('test:throw'), { code: 'INTERNAL', rpcCode: -32603 });
  // and the sidecar still serves
  assert.equal((await c.request('org:status')).total, 1);
});

test('bad arguments are refused before anything is sent', async (t) => {
  const c = client();
  t.after(() => c.close());
  await assert.rejects(c.request(''), TypeError);
  await assert.rejects(c.request('org:claim', /** @type {any} */ ('agent-1')), TypeError);
});

test('a request that is not answered in time rejects with REQUEST_TIMEOUT; a late answer is ignored', async (t) => {
  const c = client();
  t.after(() => c.close());
  await assert.rejects(c.request('test:sleep', [400], { timeoutMs: 50 }), { code: 'REQUEST_TIMEOUT', method: 'test:sleep' });
  await new Promise((r) => setTimeout(r, 450));
  assert.equal((await c.request('org:status')).total, 0);
});

test('notifications: one generic event and one named after the method', async (t) => {
  const c = client();
  t.after(() => c.close());
  const generic = [];
  c.on('notification', (method, params) => generic.push([method, params]));
  const named = nextEvent(c, 'org:changed');
  await c.request('org:register', ['qa1']);
  const change = await named;
  assert.equal(change.reason, 'registered');
  assert.equal(change.org.alias, 'qa1');
  assert.equal(change.status.available, 1);
  await c.request('test:notify', ['terminal:output', { agentId: 'a', stream: 'stdout', data: 'hi\n' }]);
  await waitFor(() => generic.length === 2);
  assert.deepEqual(generic.map(([m]) => m), ['org:changed', 'terminal:output']);
  // a notification whose name collides with a lifecycle event is only emitted generically
  let exitEvents = 0;
  c.on('exit', () => exitEvents++);
  await c.request('test:notify', ['exit', { x: 1 }]);
  await waitFor(() => generic.length === 3);
  assert.equal(exitEvents, 0);
});

test('content-length framing works end to end', async (t) => {
  const c = client([], { framing: 'content-length' });
  t.after(() => c.close());
  assert.deepEqual(c.argv.slice(-2), ['--framing', 'content-length']);
  const org = await c.request('org:register', ['é-ünïcode'.replace(/[^A-Za-z0-9_.@-]/g, 'x')]);
  assert.ok(org.id);
});

test('a non-frame line on stdout is reported, not fatal', async (t) => {
  const c = client(['--noise']);
  t.after(() => c.close());
  const problems = [];
  c.on('protocol-error', (m) => problems.push(m));
  assert.equal((await c.request('org:status')).total, 0);
  assert.equal(problems.length, 1);
  assert.match(problems[0], /unparsable frame/);
});

test('a killed sidecar: in-flight requests reject, it restarts with backoff, events say so', async (t) => {
  const c = client([], { restart: { initialDelayMs: 50, maxDelayMs: 400 } });
  t.after(() => c.close());
  await c.start();
  const firstPid = c.pid;
  const inFlight = c.request('test:sleep', [5000]);
  const exit = nextEvent(c, 'exit');
  const restarting = nextEvent(c, 'restarting');
  const restarted = nextEvent(c, 'restarted');
  process.kill(firstPid, 'SIGKILL');
  await assert.rejects(inFlight, (e) => {
    assert.equal(e.code, 'SIDECAR_EXITED');
    assert.match(e.message, /killed by SIGKILL before it answered "test:sleep"; it is being restarted/);
    return true;
  });
  assert.deepEqual(await exit, { pid: firstPid, code: null, signal: 'SIGKILL', expected: false, error: null });
  assert.deepEqual(await restarting, { attempt: 1, delayMs: 50, code: null, signal: 'SIGKILL' });
  const info = await restarted;
  assert.equal(info.attempt, 1);
  assert.notEqual(info.pid, firstPid);
  assert.equal(isAlive(firstPid), false);
  assert.equal(typeof (await c.request('test:pid')), 'number');

  // a second crash right away doubles the delay
  const again = nextEvent(c, 'restarting');
  await assert.rejects(c.request('test:crash', [9]), { code: 'SIDECAR_EXITED' });
  assert.equal((await again).delayMs, 100);
  await nextEvent(c, 'restarted');
});

test('requests made while a restart is pending wait for the new process', async (t) => {
  const c = client([], { restart: { initialDelayMs: 150 } });
  t.after(() => c.close());
  await c.start();
  const restarting = nextEvent(c, 'restarting');
  process.kill(c.pid, 'SIGKILL');
  await restarting;
  assert.equal(c.state, 'restarting');
  const status = await c.request('org:status');
  assert.equal(status.total, 0);
});

test('a sidecar that keeps failing: backoff, then gave-up, then requests fail fast', async (t) => {
  const c = client(['--crash-on-start'], { restart: { initialDelayMs: 10, maxDelayMs: 40, maxAttempts: 3 } });
  t.after(() => c.close());
  const delays = [];
  c.on('restarting', (i) => delays.push(i.delayMs));
  const gaveUp = nextEvent(c, 'gave-up');
  await c.start();
  assert.equal((await gaveUp).attempts, 3);
  assert.deepEqual(delays, [10, 20, 40]);
  assert.equal(c.state, 'failed');
  await assert.rejects(c.request('org:status'), { code: 'SIDECAR_UNAVAILABLE' });
});

test('an interpreter that does not exist: the start rejects clearly', async (t) => {
  const c = new SidecarClient({ python: '/nonexistent/python', restart: { enabled: false } });
  t.after(() => c.close());
  await assert.rejects(c.start(), (e) => {
    assert.equal(e.code, 'SIDECAR_UNAVAILABLE');
    assert.match(e.message, /Could not start the sidecar \(\/nonexistent\/python\): spawn \/nonexistent\/python ENOENT/);
    return true;
  });
  await assert.rejects(c.request('org:status'), { code: 'SIDECAR_UNAVAILABLE' });
});

test('close(): ends stdin, the sidecar exits by itself, nothing is left', async () => {
  const c = client();
  await c.start();
  const pid = c.pid;
  const childPid = await c.request('test:spawnChild');
  assert.ok(isAlive(childPid));
  const pending = c.request('test:sleep', [10_000]);
  const started = Date.now();
  await c.close();
  assert.ok(Date.now() - started < 1500, 'a well-behaved sidecar exits on EOF without waiting for the grace');
  await assert.rejects(pending, { code: 'SIDECAR_CLOSED' });
  assert.equal(c.state, 'closed');
  assert.equal(isAlive(pid), false);
  await waitFor(() => !isAlive(childPid), { what: `child ${childPid} gone` });
  await assert.rejects(c.request('org:status'), { code: 'SIDECAR_CLOSED' });
  await c.close(); // idempotent
});

test('close(): a sidecar that ignores EOF gets SIGTERM on its whole group, children included', async () => {
  const c = client(['--ignore-eof'], { closeGraceMs: 300 });
  await c.start();
  const pid = c.pid;
  const childPid = await c.request('test:spawnChild');
  const started = Date.now();
  await c.close();
  const took = Date.now() - started;
  assert.ok(took >= 300 && took < 1500, `took ${took} ms`);
  assert.equal(isAlive(pid), false);
  await waitFor(() => !isAlive(childPid), { what: `child ${childPid} gone` });
  assert.ok(c.logs.some((l) => l.includes('ignoring EOF')));
});

test('close(): a sidecar that ignores EOF and SIGTERM gets SIGKILL', async () => {
  const c = client(['--ignore-eof', '--ignore-sigterm'], { closeGraceMs: 200, killGraceMs: 200 });
  await c.start();
  const pid = c.pid;
  const childPid = await c.request('test:spawnChild');
  await c.close();
  assert.equal(isAlive(pid), false);
  await waitFor(() => !isAlive(childPid), { what: `child ${childPid} gone` });
  assert.ok(c.logs.some((l) => l.includes('ignoring SIGTERM')));
});

test('close() during a pending restart cancels it', async () => {
  const c = client([], { restart: { initialDelayMs: 300 } });
  await c.start();
  const restarting = nextEvent(c, 'restarting');
  process.kill(c.pid, 'SIGKILL');
  await restarting;
  let restarted = false;
  c.on('restarted', () => (restarted = true));
  await c.close();
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(restarted, false);
  assert.equal(c.pid, null);
});

test('argv: python -m sidecar with home, framing and log level', () => {
  const c = new SidecarClient({ python: '/x/python', home: '/h', logLevel: 'debug', extraArgs: ['--x'] });
  assert.deepEqual(c.argv, ['/x/python', '-m', 'sidecar', '--home', '/h', '--framing', 'ndjson', '--log-level', 'debug', '--x']);
  const script = new SidecarClient({ command: 'sweatshop-sidecar' });
  assert.deepEqual(script.argv, ['sweatshop-sidecar', '--framing', 'ndjson']);
  assert.throws(() => new SidecarClient({ framing: /** @type {any} */ ('lines') }), /framing must be/);
});

test('checkProtocol accepts the same major version and refuses another', async (t) => {
  const c = client();
  t.after(() => c.close());
  assert.equal((await c.checkProtocol('1')).protocolVersion, '1.0');
  await assert.rejects(c.checkProtocol('2'), { code: 'PROTOCOL_MISMATCH' });
});

test('restart() after giving up starts a fresh sidecar; requests meanwhile say so in words', async (t) => {
  const c = client([], { restart: { initialDelayMs: 10, maxDelayMs: 10, maxAttempts: 2 } });
  t.after(() => c.close());
  await c.start();
  c.options.args.push('--crash-on-start'); // every restart now fails
  const gaveUp = nextEvent(c, 'gave-up', 5000);
  await c.request('test:crash', [3]).catch(() => {});
  await gaveUp;
  assert.equal(c.state, 'failed');
  await assert.rejects(c.request('org:status'), (err) => {
    assert.equal(err.code, 'SIDECAR_UNAVAILABLE');
    assert.doesNotMatch(err.message, /start\(\)|restart\(\)/, 'a sentence for a person, not a developer instruction');
    return true;
  });
  c.options.args.pop();
  await c.restart();
  assert.equal(c.state, 'running');
  assert.equal((await c.request('org:status')).total, 0);
});

test('a request that times out sends $/cancelRequest with its id; one never sent is just dropped', async (t) => {
  const c = client();
  t.after(() => c.close());
  const sent = [];
  const write = c._write.bind(c);
  c._write = (frame) => {
    sent.push(JSON.parse(frame.toString('utf8')));
    write(frame);
  };
  await c.start();
  await assert.rejects(c.request('test:sleep', [2000], { timeoutMs: 50 }), { code: 'REQUEST_TIMEOUT' });
  const id = sent.find((m) => m.method === 'test:sleep').id;
  assert.deepEqual(sent.at(-1), { jsonrpc: '2.0', method: '$/cancelRequest', params: { id } });
  const controller = new AbortController();
  const slow = c.request('test:sleep', [2000], { signal: controller.signal });
  controller.abort();
  await assert.rejects(slow, { code: 'REQUEST_ABORTED' });
  assert.equal(sent.filter((m) => m.method === '$/cancelRequest').length, 2);
  assert.equal(c._pending.size, 0, 'nothing left awaiting an answer');
});
