'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { encodeFrame, FrameDecoder } = require('../../framing');

test('ndjson: one message per line, split anywhere, multi-byte UTF-8 intact', () => {
  const msgs = [{ a: 'héllo ✓ 🎉' }, { b: 'line\nbreak and \u2028 separator' }, { c: 3 }];
  const bytes = Buffer.concat(msgs.map((m) => encodeFrame(m, 'ndjson')));
  assert.equal(bytes.toString('utf8').split('\n').length, 4, 'each frame is exactly one line');
  for (let step = 1; step <= 7; step++) {
    const d = new FrameDecoder('ndjson');
    const out = [];
    for (let i = 0; i < bytes.length; i += step) out.push(...d.push(bytes.subarray(i, i + step)));
    assert.deepEqual(out.map((t) => JSON.parse(t)), msgs, `chunk size ${step}`);
  }
});

test('ndjson: blank lines and CRLF are tolerated', () => {
  const d = new FrameDecoder('ndjson');
  assert.deepEqual(d.push(Buffer.from('\n{"x":1}\r\n\n{"y":2}\n')), ['{"x":1}', '{"y":2}']);
});

test('ndjson: an overlong partial line is dropped and reported', () => {
  const errors = [];
  const d = new FrameDecoder('ndjson', { maxFrameBytes: 16, onError: (m) => errors.push(m) });
  assert.deepEqual(d.push(Buffer.from('x'.repeat(40))), []);
  assert.equal(errors.length, 1);
  assert.deepEqual(d.push(Buffer.from('more of the long line\n{"ok":1}\n')), ['{"ok":1}']);
});

test('content-length: byte counts, split headers and bodies, several frames per chunk', () => {
  const msgs = [{ a: 'é🎉' }, { b: [1, 2, 3] }];
  const bytes = Buffer.concat(msgs.map((m) => encodeFrame(m, 'content-length')));
  assert.match(bytes.toString('latin1'), /^Content-Length: \d+\r\n\r\n/);
  for (let step = 1; step <= 9; step++) {
    const d = new FrameDecoder('content-length');
    const out = [];
    for (let i = 0; i < bytes.length; i += step) out.push(...d.push(bytes.subarray(i, i + step)));
    assert.deepEqual(out.map((t) => JSON.parse(t)), msgs, `chunk size ${step}`);
  }
});

test('content-length: oversize bodies are skipped, the next frame still decodes', () => {
  const errors = [];
  const d = new FrameDecoder('content-length', { maxFrameBytes: 10, onError: (m) => errors.push(m) });
  const big = encodeFrame({ big: 'x'.repeat(50) }, 'content-length');
  const small = Buffer.from('Content-Length: 2\r\n\r\n{}');
  assert.deepEqual(d.push(Buffer.concat([big.subarray(0, 30)])), []);
  assert.deepEqual(d.push(Buffer.concat([big.subarray(30), small])), ['{}']);
  assert.equal(errors.length, 1);
});

test('unknown framing is refused', () => {
  assert.throws(() => new FrameDecoder(/** @type {any} */ ('xml')), /unknown framing/);
});
