'use strict';
/**
 * Typed errors for the sidecar client, and their encoding across Electron's `ipcMain.handle` / `invoke`.
 *
 * Electron keeps only the `message` of an error thrown in a main-process handler (custom properties are
 * dropped, and the renderer sees "Error invoking remote method 'ch': Error: <message>"). So the main side
 * throws `new Error('[CODE] message')` and the preload script parses the code back out (see `preload.js`,
 * which carries its own copy of the decoder because a sandboxed preload cannot `require` local files).
 * @module errors
 */

/**
 * Codes the client itself produces (the sidecar's own codes arrive in `error.data.code`).
 * @readonly
 */
const ClientErrorCode = Object.freeze({
  /** the sidecar did not answer within the request's timeout */
  REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  /** the sidecar process exited (or was killed) before answering */
  SIDECAR_EXITED: 'SIDECAR_EXITED',
  /** the sidecar could not be started, or gave up restarting */
  SIDECAR_UNAVAILABLE: 'SIDECAR_UNAVAILABLE',
  /** the client was closed */
  SIDECAR_CLOSED: 'SIDECAR_CLOSED',
  /** the caller aborted the request (its `AbortSignal`); the sidecar was told to stop it (`$/cancelRequest`) */
  REQUEST_ABORTED: 'REQUEST_ABORTED',
  /** the sidecar sent an error without a usable code */
  INTERNAL: 'INTERNAL',
});

/** Standard JSON-RPC numeric codes mapped to a data.code when the sidecar leaves data.code out. */
const STANDARD_CODES = Object.freeze({
  '-32700': 'PARSE_ERROR',
  '-32600': 'INVALID_REQUEST',
  '-32601': 'METHOD_NOT_FOUND',
  '-32602': 'INVALID_PARAMS',
  '-32603': 'INTERNAL',
});

const CODE_PATTERN = /^[A-Z][A-Z0-9_]*$/;

/** An error from the sidecar (or about it), with the code a caller branches on. */
class SidecarError extends Error {
  /**
   * @param {string} message a sentence a person can act on
   * @param {{code: string, rpcCode?: number | null, data?: unknown, method?: string | null, cause?: unknown}} info
   */
  constructor(message, { code, rpcCode = null, data = null, method = null, cause } = /** @type {any} */ ({})) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'SidecarError';
    /** @type {string} `error.data.code` from the sidecar (e.g. `CAPACITY_REACHED`), or a {@link ClientErrorCode} */
    this.code = code;
    /** @type {number | null} the JSON-RPC numeric `error.code`, null for errors raised by the client */
    this.rpcCode = rpcCode;
    /** @type {unknown} the JSON-RPC `error.data` as sent */
    this.data = data;
    /** @type {string | null} the method of the request that failed */
    this.method = method;
  }
}

/**
 * Builds a SidecarError from a JSON-RPC error object.
 * @param {{code?: number, message?: string, data?: any}} error
 * @param {string | null} [method]
 * @returns {SidecarError}
 */
function fromRpcError(error, method = null) {
  const rpcCode = typeof error?.code === 'number' ? error.code : null;
  const data = error?.data ?? null;
  let code = data && typeof data === 'object' && typeof data.code === 'string' ? data.code : null;
  if (!code) code = (rpcCode !== null && STANDARD_CODES[String(rpcCode)]) || ClientErrorCode.INTERNAL;
  const message = typeof error?.message === 'string' && error.message ? error.message : `sidecar error ${rpcCode}`;
  return new SidecarError(message, { code, rpcCode, data, method });
}

/**
 * What a main-process `ipcMain.handle` handler throws so the code survives `invoke`: `[CODE] message`.
 * @param {unknown} err
 * @returns {Error}
 */
function toIpcError(err) {
  const e = /** @type {any} */ (err);
  const code = typeof e?.code === 'string' && CODE_PATTERN.test(e.code) ? e.code : ClientErrorCode.INTERNAL;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return new Error(`[${code}] ${message}`);
}

/**
 * Turns the error that `ipcRenderer.invoke` rejects with back into an Error with `.code`.
 * The message keeps the `[CODE] ` prefix on purpose: `contextBridge` copies only the message of an error
 * into the page, so the prefix is how the code still reaches page code (see `components/errors.js`).
 * @param {unknown} err
 * @returns {Error & {code: string, detail: string}}
 */
function decodeIpcError(err) {
  const raw = typeof (/** @type {any} */ (err)?.message) === 'string' ? /** @type {any} */ (err).message : String(err);
  const match = /\[([A-Z][A-Z0-9_]*)\] ([\s\S]*)$/.exec(raw);
  const code = match ? match[1] : ClientErrorCode.INTERNAL;
  const detail = match ? match[2] : raw.replace(/^Error invoking remote method '[^']*': (?:\w*Error: )?/, '');
  const out = /** @type {Error & {code: string, detail: string}} */ (new Error(`[${code}] ${detail}`));
  out.name = 'SidecarError';
  out.code = code;
  out.detail = detail;
  return out;
}

module.exports = { SidecarError, ClientErrorCode, fromRpcError, toIpcError, decodeIpcError };
