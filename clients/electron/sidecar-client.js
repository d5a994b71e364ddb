'use strict';
/**
 * The main-process client of the SweatShop sidecar: spawns `python -m sidecar`, speaks JSON-RPC 2.0 over its
 * stdio (ndjson by default), and keeps it alive.
 *
 * - `request(method, params)` sends a request with an id and a timeout and resolves with the result, or rejects
 *   with a {@link SidecarError} whose `.code` is the sidecar's `error.data.code`.
 * - Every notification is emitted twice: as `'notification'` `(method, params)` and as an event named after the
 *   method (`client.on('org:changed', params => ...)`).
 * - If the process dies, requests in flight reject with `SIDECAR_EXITED`, the client emits `'exit'`, then
 *   `'restarting'` and, once a new process runs, `'restarted'`; restarts back off exponentially.
 * - `close()` ends stdin (the sidecar exits on EOF), waits, then kills the sidecar's whole process group, so no
 *   process outlives the app.
 * @module sidecar-client
 */

const { spawn } = require('node:child_process');
const { EventEmitter } = require('node:events');
const { encodeFrame, FrameDecoder } = require('./framing');
const { SidecarError, ClientErrorCode, fromRpcError } = require('./errors');

/**
 * @typedef {object} RestartOptions
 * @property {boolean} [enabled=true] restart the sidecar when it exits unexpectedly
 * @property {number} [initialDelayMs=250] delay before the first restart
 * @property {number} [maxDelayMs=10000] the delay doubles per consecutive restart, up to this
 * @property {number} [factor=2]
 * @property {number} [maxAttempts=10] consecutive failed restarts before giving up (`'gave-up'` event)
 * @property {number} [resetAfterMs=30000] a process that lived this long resets the backoff
 */

/**
 * @typedef {object} SidecarClientOptions
 * @property {string} [python] interpreter; default `$SWEATSHOP_PYTHON`, else `python3`
 * @property {string} [module='sidecar'] module run with `-m`
 * @property {string} [home] passed as `--home`; omitted: the sidecar's default (`$SWEATSHOP_HOME`, `~/.sweatshop`)
 * @property {import('./framing').Framing} [framing='ndjson']
 * @property {string} [logLevel] passed as `--log-level`
 * @property {string[]} [extraArgs] appended to the sidecar's arguments
 * @property {string} [command] run this executable instead of `<python> -m <module>` (e.g. the
 *   `sweatshop-sidecar` console script); `args` are then passed verbatim, followed by the home/framing flags
 * @property {string[]} [args]
 * @property {string} [cwd] working directory of the sidecar
 * @property {Record<string, string | undefined>} [env] added to (or, with undefined, removed from) `process.env`
 * @property {number} [requestTimeoutMs=30000] default per-request timeout; 0 disables it
 * @property {Record<string, number>} [methodTimeoutsMs] per-method timeouts; 0 disables
 * @property {number} [closeGraceMs=2000] how long `close()` waits after ending stdin before SIGTERM
 * @property {number} [killGraceMs=1000] how long after SIGTERM before SIGKILL
 * @property {RestartOptions} [restart]
 * @property {boolean} [killOnExit=true] kill the sidecar's process group if this Node process exits first
 */

/** @typedef {'idle' | 'running' | 'restarting' | 'failed' | 'closing' | 'closed'} ClientState */

const LIFECYCLE_EVENTS = new Set([
  'notification', 'exit', 'restarting', 'restarted', 'spawn', 'gave-up', 'stderr', 'protocol-error', 'error',
  'newListener', 'removeListener', 'closed',
]);

const DEFAULT_METHOD_TIMEOUTS_MS = Object.freeze({
  'org:discover': 180_000,
  'agent:provision': 0,
  'sf:run': 0,
});

/**
 * Spawns and talks to one sidecar process (and its successors after a restart).
 *
 * Events: `'spawn'` `{pid}`, `'notification'` `(method, params)`, `<method>` `(params)`, `'exit'`
 * `{pid, code, signal, expected}`, `'restarting'` `{attempt, delayMs}`, `'restarted'` `{attempt, pid}`,
 * `'gave-up'` `{attempts, error}`, `'stderr'` `(line)`, `'protocol-error'` `(message)`, `'closed'`.
 */
class SidecarClient extends EventEmitter {
  /** @param {SidecarClientOptions} [options] */
  constructor(options = {}) {
    super();
    const restart = options.restart ?? {};
    this.options = {
      python: options.python ?? process.env.SWEATSHOP_PYTHON ?? 'python3',
      module: options.module ?? 'sidecar',
      home: options.home,
      framing: options.framing ?? 'ndjson',
      logLevel: options.logLevel,
      extraArgs: options.extraArgs ?? [],
      command: options.command,
      args: options.args ?? [],
      cwd: options.cwd,
      env: options.env ?? {},
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      methodTimeoutsMs: { ...DEFAULT_METHOD_TIMEOUTS_MS, ...(options.methodTimeoutsMs ?? {}) },
      closeGraceMs: options.closeGraceMs ?? 2000,
      killGraceMs: options.killGraceMs ?? 1000,
      killOnExit: options.killOnExit ?? true,
      restart: {
        enabled: restart.enabled ?? true,
        initialDelayMs: restart.initialDelayMs ?? 250,
        maxDelayMs: restart.maxDelayMs ?? 10_000,
        factor: restart.factor ?? 2,
        maxAttempts: restart.maxAttempts ?? 10,
        resetAfterMs: restart.resetAfterMs ?? 30_000,
      },
    };
    if (this.options.framing !== 'ndjson' && this.options.framing !== 'content-length') {
      throw new TypeError(`framing must be "ndjson" or "content-length", not ${JSON.stringify(this.options.framing)}`);
    }
    /** @type {ClientState} */
    this._state = 'idle';
    /** @type {import('node:child_process').ChildProcess | null} */
    this._child = null;
    this._nextId = 1;
    /** @type {Map<number, PendingEntry>} */
    this._pending = new Map();
    /** requests made while a restart is pending: sent once the new process runs */
    /** @type {{id: number, frame: Buffer}[]} */
    this._waiting = [];
    this._attempt = 0;
    /** @type {NodeJS.Timeout | null} */
    this._restartTimer = null;
    /** @type {Promise<void> | null} */
    this._closing = null;
    this._exitHook = () => this._killGroup('SIGKILL');
    this.setMaxListeners(50);
  }

  /** @returns {ClientState} */
  get state() {
    return this._state;
  }

  /** @returns {number | null} pid of the running sidecar (also its process group id) */
  get pid() {
    return this._child?.pid ?? null;
  }

  /** The argv the sidecar is started with: `[command, ...args]`. */
  get argv() {
    const o = this.options;
    const flags = [];
    if (o.home) flags.push('--home', o.home);
    flags.push('--framing', o.framing);
    if (o.logLevel) flags.push('--log-level', o.logLevel);
    flags.push(...o.extraArgs);
    return o.command ? [o.command, ...o.args, ...flags] : [o.python, '-m', o.module, ...flags];
  }

  /**
   * Starts the sidecar. Called implicitly by the first `request()`; call it yourself to start early.
   * Resolves once the process has been spawned (not when it has finished importing).
   * @returns {Promise<void>}
   */
  start() {
    if (this._state === 'closing' || this._state === 'closed') {
      return Promise.reject(new SidecarError('The sidecar client is closed.', { code: ClientErrorCode.SIDECAR_CLOSED }));
    }
    if (this._state === 'failed') {
      this._attempt = 0;
    } else if (this._state !== 'idle') {
      return Promise.resolve();
    }
    return this._spawn();
  }

  /**
   * Sends a JSON-RPC request.
   *
   * A request that times out, or whose `signal` aborts, rejects at once and the sidecar is told to stop it
   * (`$/cancelRequest`, as in LSP): the sidecar cancels the work and kills the `sf` process it started.
   * @param {string} method e.g. `org:claim`
   * @param {unknown[] | Record<string, unknown>} [params] positional (like `ipcRenderer.invoke` args) or by name
   * @param {{timeoutMs?: number, signal?: AbortSignal}} [options] `timeoutMs`: 0 disables the timeout;
   *   `signal`: aborting it cancels the request (rejects with `REQUEST_ABORTED`)
   * @returns {Promise<any>} the result; rejects with a {@link SidecarError}
   */
  request(method, params = [], options = {}) {
    if (typeof method !== 'string' || method === '') {
      return Promise.reject(new TypeError('method must be a non-empty string'));
    }
    if (params === null || typeof params !== 'object') {
      return Promise.reject(new TypeError(`params of ${method} must be an array or an object`));
    }
    const signal = options.signal;
    if (signal?.aborted) {
      return Promise.reject(abortedError(method, signal));
    }
    if (this._state === 'closing' || this._state === 'closed') {
      return Promise.reject(new SidecarError(`The sidecar client is closed; "${method}" was not sent.`, {
        code: ClientErrorCode.SIDECAR_CLOSED, method,
      }));
    }
    if (this._state === 'failed') {
      return Promise.reject(new SidecarError(
        `SweatShop's org controller stopped and could not be restarted, so "${method}" was not sent.`,
        { code: ClientErrorCode.SIDECAR_UNAVAILABLE, method },
      ));
    }
    if (this._state === 'idle') this.start().catch(() => {});

    const id = this._nextId++;
    const frame = encodeFrame({ jsonrpc: '2.0', id, method, params }, this.options.framing);
    const timeoutMs = options.timeoutMs ?? this.options.methodTimeoutsMs[method] ?? this.options.requestTimeoutMs;
    return new Promise((resolve, reject) => {
      /** @type {PendingEntry} */
      const entry = { method, resolve, reject, timer: null, cleanup: null };
      if (timeoutMs > 0) {
        entry.timer = setTimeout(() => {
          this._cancel(id);
          reject(new SidecarError(`The sidecar did not answer "${method}" within ${timeoutMs} ms; it was asked to stop it.`, {
            code: ClientErrorCode.REQUEST_TIMEOUT, method,
          }));
        }, timeoutMs);
      }
      if (signal) {
        const onAbort = () => {
          this._cancel(id);
          reject(abortedError(method, signal));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        entry.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      this._pending.set(id, entry);
      if (this._state === 'restarting') this._waiting.push({ id, frame });
      else this._write(frame);
    });
  }

  /**
   * Forgets request `id` and, if it already reached the sidecar, tells the sidecar to stop it.
   * @param {number} id
   */
  _cancel(id) {
    const entry = this._pending.get(id);
    if (!entry) return;
    this._pending.delete(id);
    settle(entry);
    const queued = this._waiting.findIndex((w) => w.id === id);
    if (queued >= 0) {
      this._waiting.splice(queued, 1); // never sent: nothing to cancel on the other side
      return;
    }
    this.notify('$/cancelRequest', { id });
  }

  /**
   * Tries again now: after the client gave up (`'gave-up'`, state `failed`) it starts a new sidecar with a fresh
   * backoff; while a restart is pending it starts the new process without waiting for the delay. A running
   * sidecar is left alone. This is what a "Retry" button should call.
   * @returns {Promise<void>}
   */
  restart() {
    if (this._state === 'restarting' && this._restartTimer) {
      clearTimeout(this._restartTimer);
      this._restartTimer = null;
      return this._respawn();
    }
    if (this._state !== 'failed') return this.start();
    return this.start().then(() => {
      this.emit('restarted', { attempt: 0, pid: this.pid });
    });
  }

  /**
   * Sends a JSON-RPC notification (no answer).
   * @param {string} method
   * @param {unknown[] | Record<string, unknown>} [params]
   */
  notify(method, params = []) {
    if (this._state !== 'running') return;
    this._write(encodeFrame({ jsonrpc: '2.0', method, params }, this.options.framing));
  }

  /**
   * Checks that the sidecar speaks a compatible protocol (same major version), via `sidecar:health`.
   * @param {string} [expected='1'] the major protocol version this client was written for
   * @returns {Promise<any>} the health result
   */
  async checkProtocol(expected = '1') {
    const health = await this.request('sidecar:health');
    const major = String(health?.protocolVersion ?? '').split('.')[0];
    if (major !== String(expected).split('.')[0]) {
      throw new SidecarError(
        `The sidecar speaks protocol ${health?.protocolVersion}, this client expects ${expected}.x: update one of them.`,
        { code: 'PROTOCOL_MISMATCH', method: 'sidecar:health', data: health },
      );
    }
    return health;
  }

  /**
   * Stops the sidecar for good: ends its stdin, waits `closeGraceMs` for it to exit, then SIGTERM and SIGKILL to
   * its process group. Requests still unanswered reject with `SIDECAR_CLOSED`. Safe to call more than once.
   * @returns {Promise<void>}
   */
  close() {
    if (this._closing) return this._closing;
    this._closing = this._close();
    return this._closing;
  }

  async _close() {
    const wasRunning = this._state === 'running';
    this._state = 'closing';
    if (this._restartTimer) clearTimeout(this._restartTimer);
    this._restartTimer = null;
    this._rejectWaiting(ClientErrorCode.SIDECAR_CLOSED, 'the client was closed');
    const child = this._child;
    if (wasRunning && child && child.exitCode === null && child.signalCode === null) {
      try {
        child.stdin?.end();
      } catch {
        /* already closed */
      }
      let exited = await waitForExit(child, this.options.closeGraceMs);
      if (!exited) {
        this._killGroup('SIGTERM');
        exited = await waitForExit(child, this.options.killGraceMs);
      }
      if (!exited) {
        this._killGroup('SIGKILL');
        await waitForExit(child, 5000);
      }
    }
    // The leader is gone; anything it left in its group goes too.
    if (child?.pid) killGroup(child.pid, 'SIGKILL');
    this._rejectAll(ClientErrorCode.SIDECAR_CLOSED, 'The sidecar client was closed before it answered');
    process.removeListener('exit', this._exitHook);
    this._child = null;
    this._state = 'closed';
    this.emit('closed');
  }

  /** @returns {Promise<void>} */
  _spawn() {
    const [command, ...args] = this.argv;
    const env = { ...process.env, PYTHONUNBUFFERED: '1', PYTHONIOENCODING: 'utf-8' };
    for (const [key, value] of Object.entries(this.options.env)) {
      if (value === undefined) delete env[key];
      else env[key] = value;
    }
    const isWindows = process.platform === 'win32';
    /** @type {import('node:child_process').ChildProcess} */
    let child;
    try {
      child = spawn(command, args, {
        cwd: this.options.cwd,
        env,
        stdio: ['pipe', 'pipe', 'pipe'],
        // Its own process group (and session): close() can kill the sidecar with everything it started.
        detached: !isWindows,
        windowsHide: true,
      });
    } catch (err) {
      this._state = 'running';
      this._onGone(null, { code: null, signal: null, error: /** @type {Error} */ (err) });
      return Promise.reject(err);
    }
    this._child = child;
    this._state = 'running';
    const startedAt = Date.now();
    /** @type {{code: number | null, signal: NodeJS.Signals | null, error?: Error} | null} */
    let exitInfo = null;
    let gone = false;
    const finish = () => {
      if (gone) return;
      gone = true;
      this._onGone(child, { ...(exitInfo ?? { code: child.exitCode, signal: child.signalCode }), startedAt });
    };

    const decoder = new FrameDecoder(this.options.framing, {
      onError: (message) => this.emit('protocol-error', message),
    });
    child.stdout?.on('data', (chunk) => {
      for (const text of decoder.push(chunk)) this._onFrame(text);
    });
    let stderrRest = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk) => {
      const lines = (stderrRest + chunk).split(/\r?\n/);
      stderrRest = lines.pop() ?? '';
      for (const line of lines) this.emit('stderr', line);
    });
    child.stderr?.on('end', () => {
      if (stderrRest) this.emit('stderr', stderrRest);
      stderrRest = '';
    });
    // A write to a dead sidecar must not crash the app; the exit handling below reports it.
    child.stdin?.on('error', () => {});

    child.on('error', (err) => {
      if (child.pid === undefined) {
        exitInfo = { code: null, signal: null, error: err };
        finish();
      }
    });
    child.on('exit', (code, signal) => {
      exitInfo = { code, signal };
      // Answers written just before exiting may still sit in the pipe: wait for stdout to drain ('close'),
      // but not forever (a grandchild could hold the pipe open).
      const timer = setTimeout(finish, 250);
      child.once('close', () => {
        clearTimeout(timer);
        finish();
      });
    });

    return new Promise((resolve, reject) => {
      child.once('spawn', () => {
        if (this.options.killOnExit && process.listeners('exit').indexOf(this._exitHook) === -1) {
          process.on('exit', this._exitHook);
        }
        this.emit('spawn', { pid: child.pid });
        resolve();
      });
      child.once('error', (err) => {
        if (child.pid === undefined) {
          reject(new SidecarError(`Could not start the sidecar (${command}): ${err.message}`, {
            code: ClientErrorCode.SIDECAR_UNAVAILABLE, cause: err,
          }));
        }
      });
    });
  }

  /**
   * @param {import('node:child_process').ChildProcess | null} child
   * @param {{code: number | null, signal: NodeJS.Signals | null, error?: Error, startedAt?: number}} info
   */
  _onGone(child, info) {
    if (child && this._child !== child) return;
    const expected = this._state === 'closing' || this._state === 'closed';
    const pid = child?.pid ?? null;
    // Sweep what the dead sidecar left in its group (nothing, normally).
    if (pid && !expected) killGroup(pid, 'SIGKILL');
    const how = info.error
      ? `could not be started (${info.error.message})`
      : info.signal ? `was killed by ${info.signal}` : `exited with code ${info.code}`;
    this.emit('exit', { pid, code: info.code, signal: info.signal, expected, error: info.error ?? null });
    if (expected) return;

    this._child = null;
    const willRestart = this.options.restart.enabled;
    this._rejectAll(
      ClientErrorCode.SIDECAR_EXITED,
      `The sidecar ${how} before it answered`,
      willRestart ? '; it is being restarted, so try again.' : '.',
    );
    if (!willRestart) {
      this._state = 'failed';
      this.emit('gave-up', { attempts: 0, error: info.error ?? null });
      return;
    }
    const lived = info.startedAt ? Date.now() - info.startedAt : 0;
    if (lived >= this.options.restart.resetAfterMs) this._attempt = 0;
    this._attempt += 1;
    const r = this.options.restart;
    if (this._attempt > r.maxAttempts) {
      this._state = 'failed';
      this._rejectWaiting(ClientErrorCode.SIDECAR_UNAVAILABLE, `the sidecar ${how} ${r.maxAttempts} times in a row`);
      this.emit('gave-up', { attempts: this._attempt - 1, error: info.error ?? null });
      return;
    }
    const delayMs = Math.min(r.maxDelayMs, r.initialDelayMs * r.factor ** (this._attempt - 1));
    this._state = 'restarting';
    this.emit('restarting', { attempt: this._attempt, delayMs, code: info.code, signal: info.signal });
    this._restartTimer = setTimeout(() => {
      this._restartTimer = null;
      if (this._state !== 'restarting') return;
      this._respawn().catch(() => {
        /* reported through _onGone, which schedules the next attempt */
      });
    }, delayMs);
  }

  /**
   * Starts the next process of a restart and sends what waited for it.
   * @returns {Promise<void>}
   */
  _respawn() {
    const attempt = this._attempt;
    const spawned = this._spawn();
    // The new process has its stdin now: send what waited for it (a failed spawn rejects it all in _onGone).
    const waiting = this._waiting;
    this._waiting = [];
    for (const w of waiting) if (this._pending.has(w.id)) this._write(w.frame);
    return spawned.then(() => {
      this.emit('restarted', { attempt, pid: this.pid });
    });
  }

  /** @param {Buffer} frame */
  _write(frame) {
    const stdin = this._child?.stdin;
    if (!stdin || stdin.destroyed || !stdin.writable) return; // the exit handling rejects what is pending
    stdin.write(frame);
  }

  /** @param {string} text */
  _onFrame(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      this.emit('protocol-error', `unparsable frame from the sidecar: ${text.slice(0, 200)}`);
      return;
    }
    for (const m of Array.isArray(message) ? message : [message]) this._onMessage(m);
  }

  /** @param {any} m */
  _onMessage(m) {
    if (!m || typeof m !== 'object') {
      this.emit('protocol-error', `unexpected message from the sidecar: ${JSON.stringify(m)}`);
      return;
    }
    if (typeof m.method === 'string') {
      if (m.id !== undefined && m.id !== null) {
        // The sidecar does not call the client; answer politely rather than leave it waiting.
        this._write(encodeFrame({
          jsonrpc: '2.0', id: m.id,
          error: { code: -32601, message: `the client has no method ${m.method}`, data: { code: 'METHOD_NOT_FOUND' } },
        }, this.options.framing));
        return;
      }
      const params = m.params ?? null;
      this.emit('notification', m.method, params);
      if (!LIFECYCLE_EVENTS.has(m.method)) this.emit(m.method, params);
      return;
    }
    const entry = typeof m.id === 'number' ? this._pending.get(m.id) : undefined;
    if (!entry) {
      if (m.id === null && m.error) this.emit('protocol-error', `sidecar error without id: ${m.error.message}`);
      return; // an answer to a request that timed out
    }
    this._pending.delete(m.id);
    settle(entry);
    if (m.error) entry.reject(fromRpcError(m.error, entry.method));
    else entry.resolve(m.result === undefined ? null : m.result);
  }

  /**
   * @param {string} code
   * @param {string} what
   * @param {string} [suffix]
   */
  _rejectAll(code, what, suffix = '.') {
    const pending = [...this._pending.values()];
    this._pending.clear();
    this._waiting = [];
    for (const entry of pending) {
      settle(entry);
      entry.reject(new SidecarError(`${what} "${entry.method}"${suffix}`, { code, method: entry.method }));
    }
  }

  /**
   * @param {string} code
   * @param {string} why
   */
  _rejectWaiting(code, why) {
    const waiting = this._waiting;
    this._waiting = [];
    for (const w of waiting) {
      const entry = this._pending.get(w.id);
      if (!entry) continue;
      this._pending.delete(w.id);
      settle(entry);
      entry.reject(new SidecarError(`"${entry.method}" was not sent: ${why}.`, { code, method: entry.method }));
    }
  }

  /** @param {NodeJS.Signals} signal */
  _killGroup(signal) {
    const child = this._child;
    if (!child?.pid) return;
    if (process.platform === 'win32') {
      try {
        child.kill(signal);
      } catch {
        /* gone */
      }
      return;
    }
    killGroup(child.pid, signal);
  }
}

/**
 * @typedef {object} PendingEntry a request awaiting its answer
 * @property {string} method
 * @property {(v: any) => void} resolve
 * @property {(e: Error) => void} reject
 * @property {NodeJS.Timeout | null} timer its timeout
 * @property {(() => void) | null} cleanup removes its abort listener
 */

/**
 * Stops an entry's timer and abort listener: it is being answered, rejected or cancelled.
 * @param {PendingEntry} entry
 */
function settle(entry) {
  if (entry.timer) clearTimeout(entry.timer);
  entry.timer = null;
  entry.cleanup?.();
  entry.cleanup = null;
}

/**
 * @param {string} method
 * @param {AbortSignal} signal
 * @returns {SidecarError}
 */
function abortedError(method, signal) {
  const reason = signal.reason instanceof Error ? `: ${signal.reason.message}` : '';
  return new SidecarError(`"${method}" was cancelled by its caller${reason}.`, {
    code: ClientErrorCode.REQUEST_ABORTED, method, cause: signal.reason,
  });
}

/**
 * Sends a signal to a whole process group; a group that no longer exists is fine.
 * @param {number} pgid
 * @param {NodeJS.Signals} signal
 */
function killGroup(pgid, signal) {
  if (process.platform === 'win32') return;
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    if (/** @type {NodeJS.ErrnoException} */ (err).code !== 'ESRCH') throw err;
  }
}

/**
 * @param {import('node:child_process').ChildProcess} child
 * @param {number} ms
 * @returns {Promise<boolean>} true if the child has exited
 */
function waitForExit(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.removeListener('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = () => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

/**
 * Creates a client and starts the sidecar.
 * @param {SidecarClientOptions} [options]
 * @returns {Promise<SidecarClient>}
 */
async function startSidecar(options) {
  const client = new SidecarClient(options);
  await client.start();
  return client;
}

module.exports = { SidecarClient, startSidecar, SidecarError, ClientErrorCode };
