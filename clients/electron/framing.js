'use strict';
/**
 * Wire framing for the sidecar's stdio JSON-RPC: `ndjson` (one JSON message per line, UTF-8) and
 * `content-length` (LSP-style `Content-Length: N\r\n\r\n` headers counting bytes).
 *
 * Decoders work on raw bytes, so a multi-byte UTF-8 character split across two pipe chunks is never garbled.
 * @module framing
 */

/** @typedef {'ndjson' | 'content-length'} Framing */

const NEWLINE = 0x0a;
const HEADER_END = Buffer.from('\r\n\r\n', 'latin1');

/**
 * Encodes one message for the given framing.
 * @param {unknown} message a JSON-serializable JSON-RPC message
 * @param {Framing} framing
 * @returns {Buffer}
 */
function encodeFrame(message, framing) {
  // JSON.stringify escapes U+2028/U+2029 and never emits a raw newline, so ndjson stays one line.
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  if (framing === 'content-length') {
    return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, 'latin1'), body]);
  }
  return Buffer.concat([body, Buffer.from('\n')]);
}

/**
 * Incremental decoder: feed it chunks, get back the frames (as UTF-8 strings) completed so far.
 * Bad frames are reported through `onError` and skipped, never thrown, so one stray line cannot stop the stream.
 */
class FrameDecoder {
  /**
   * @param {Framing} framing
   * @param {{maxFrameBytes?: number, onError?: (message: string) => void}} [options]
   */
  constructor(framing, options = {}) {
    if (framing !== 'ndjson' && framing !== 'content-length') {
      throw new TypeError(`unknown framing ${JSON.stringify(framing)} (expected "ndjson" or "content-length")`);
    }
    this.framing = framing;
    this.maxFrameBytes = options.maxFrameBytes ?? 64 * 1024 * 1024;
    this.onError = options.onError ?? (() => {});
    /** @type {Buffer} */
    this.buffer = Buffer.alloc(0);
    /** bytes still to skip of an oversize content-length body */
    this.skip = 0;
    /** inside an oversize ndjson line: drop bytes up to the next newline */
    this.discarding = false;
  }

  /**
   * @param {Buffer} chunk
   * @returns {string[]} the complete frames found
   */
  push(chunk) {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    return this.framing === 'ndjson' ? this.#ndjson() : this.#contentLength();
  }

  /** @returns {string[]} */
  #ndjson() {
    const frames = [];
    let start = 0;
    if (this.discarding) {
      // The rest of a line already reported as too long.
      const end = this.buffer.indexOf(NEWLINE);
      if (end === -1) {
        this.buffer = Buffer.alloc(0);
        return frames;
      }
      start = end + 1;
      this.discarding = false;
    }
    for (;;) {
      const end = this.buffer.indexOf(NEWLINE, start);
      if (end === -1) break;
      const line = this.buffer.subarray(start, end).toString('utf8').replace(/\r$/, '');
      start = end + 1;
      if (line.trim() !== '') frames.push(line);
    }
    this.buffer = this.buffer.subarray(start);
    if (this.buffer.length > this.maxFrameBytes) {
      this.onError(`dropped an ndjson line longer than ${this.maxFrameBytes} bytes`);
      this.buffer = Buffer.alloc(0);
      this.discarding = true;
    }
    return frames;
  }

  /** @returns {string[]} */
  #contentLength() {
    const frames = [];
    for (;;) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, this.buffer.length);
        this.skip -= n;
        this.buffer = this.buffer.subarray(n);
        if (this.skip > 0) break;
      }
      const headerEnd = this.buffer.indexOf(HEADER_END);
      if (headerEnd === -1) {
        if (this.buffer.length > 8192) {
          this.onError('dropped bytes that carry no Content-Length header');
          this.buffer = Buffer.alloc(0);
        }
        break;
      }
      const headers = this.buffer.subarray(0, headerEnd).toString('latin1');
      const match = /^content-length:\s*(\d+)\s*$/im.exec(headers);
      const bodyStart = headerEnd + HEADER_END.length;
      if (!match) {
        this.onError(`frame without a Content-Length header: ${JSON.stringify(headers.slice(0, 200))}`);
        this.buffer = this.buffer.subarray(bodyStart);
        continue;
      }
      const length = Number(match[1]);
      if (length > this.maxFrameBytes) {
        this.onError(`dropped a frame of ${length} bytes (limit ${this.maxFrameBytes})`);
        this.buffer = this.buffer.subarray(bodyStart);
        this.skip = length;
        continue;
      }
      if (this.buffer.length - bodyStart < length) break;
      frames.push(this.buffer.subarray(bodyStart, bodyStart + length).toString('utf8'));
      this.buffer = this.buffer.subarray(bodyStart + length);
    }
    return frames;
  }
}

module.exports = { encodeFrame, FrameDecoder };
