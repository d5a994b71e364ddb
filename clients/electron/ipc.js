'use strict';
/**
 * Main-process IPC forwarding: `ipcMain.handle` for exactly the sidecar's renderer-facing channels, and the
 * sidecar's notifications pushed to the app's windows with `webContents.send`.
 * @module ipc
 */

const { toIpcError } = require('./errors');

/**
 * The channels a renderer may invoke, each forwarded 1:1 to the sidecar method of the same name with the
 * invoke arguments as positional params. `auth:signIn` is deliberately absent: the main process completes the
 * OIDC flow and passes the *verified* claims to the sidecar itself; a renderer must not be able to assert claims.
 * @type {readonly string[]}
 */
const RENDERER_CHANNELS = Object.freeze([
  'org:list',
  'org:status',
  'org:claim',
  'org:release',
  'org:discover',
  'org:register',
  'org:remove',
  'auth:session',
  'auth:signOut',
  'governance:home',
  'governance:overview',
  'governance:reapplyDefaults',
]);

/** Channel on which windows learn that the sidecar went away or came back: `{state, attempt?, pid?}`. */
const SIDECAR_STATE_CHANNEL = 'sidecar:state';

/**
 * Channels answered in the main process itself, not forwarded to the sidecar:
 * - `sidecar:state` (invoke): the client's state now, as `{state, canOpenOrgs}` (`running`, `restarting`,
 *   `failed`, ...), so a window opened during an outage knows it without waiting for the next push;
 *   `canOpenOrgs` says whether the app gave an `openLoginUrl` callback;
 * - `sidecar:restart` (invoke): the person's "Retry" after the client gave up; calls `client.restart()`;
 * - `agent:open` (invoke, only with `options.openLoginUrl`): asks the sidecar for a fresh login URL of the org
 *   an agent holds (`agent:loginUrl`) and hands it to the app's `openLoginUrl` callback; the renderer gets
 *   `{opened: true, org}` back, never the URL.
 * @type {Readonly<{state: string, restart: string, open: string}>}
 */
const LOCAL_CHANNELS = Object.freeze({ state: 'sidecar:state', restart: 'sidecar:restart', open: 'agent:open' });

/**
 * @typedef {object} WebContentsLike
 * @property {(channel: string, ...args: any[]) => void} send
 * @property {() => boolean} [isDestroyed]
 */

/**
 * @typedef {object} WindowLike a BrowserWindow (or anything with `webContents`), or a WebContents itself
 * @property {WebContentsLike} [webContents]
 * @property {() => boolean} [isDestroyed]
 */

/**
 * @typedef {object} IpcMainLike
 * @property {(channel: string, handler: (event: any, ...args: any[]) => any) => void} handle
 * @property {(channel: string) => void} removeHandler
 */

/**
 * @typedef {object} ClientLike the part of {@link import('./sidecar-client').SidecarClient} used here
 * @property {(method: string, params?: unknown[]) => Promise<any>} request
 * @property {string} [state] the client's state (`running`, `restarting`, `failed`, ...)
 * @property {() => Promise<void>} [restart] try again after giving up
 * @property {(event: string, listener: (...args: any[]) => void) => any} on
 * @property {(event: string, listener: (...args: any[]) => void) => any} removeListener
 */

/**
 * @typedef {object} RegisterOptions
 * @property {readonly string[]} [channels] override the invocable channels (default {@link RENDERER_CHANNELS})
 * @property {(event: any, channel: string) => boolean} [validateSender] return false to refuse a caller (for
 *   example a frame whose URL is not the app's own); refused calls fail with `ACCESS_DENIED`
 * @property {(notification: string) => boolean} [forward] which notifications reach the windows (default: all)
 * @property {(url: string, info: {agentId: string, org: any, event: any}) => unknown} [openLoginUrl] the app's
 *   one place that opens an org for QA (its QA browser pane, or `shell.openExternal(url)`); `url` is a
 *   single-use frontdoor URL, a credential: open it, never log or store it. Without this option the
 *   `agent:open` channel is not registered and the components hide their Open buttons.
 */

/**
 * Registers the IPC handlers and notification forwarding.
 * @param {IpcMainLike} ipcMain Electron's `ipcMain` (or a stand-in with `handle`/`removeHandler`)
 * @param {ClientLike} client a started or lazily-starting {@link import('./sidecar-client').SidecarClient}
 * @param {() => Iterable<WindowLike | WebContentsLike>} getWindows the windows to notify, e.g.
 *   `() => BrowserWindow.getAllWindows()`
 * @param {RegisterOptions} [options]
 * @returns {() => void} dispose: removes the handlers and listeners
 */
function registerOrgChannels(ipcMain, client, getWindows, options = {}) {
  const channels = options.channels ?? RENDERER_CHANNELS;
  const validateSender = options.validateSender ?? (() => true);
  const forward = options.forward ?? (() => true);
  const openLoginUrl = options.openLoginUrl;

  /**
   * @param {string} channel
   * @param {(event: any, ...args: any[]) => Promise<unknown>} answer
   */
  const handle = (channel, answer) => {
    ipcMain.handle(channel, async (event, ...args) => {
      if (!validateSender(event, channel)) {
        throw toIpcError({ code: 'ACCESS_DENIED', message: `This window may not call ${channel}.` });
      }
      try {
        return await answer(event, ...args);
      } catch (err) {
        throw toIpcError(err);
      }
    });
  };
  for (const channel of channels) handle(channel, (_event, ...args) => client.request(channel, args));
  const canOpenOrgs = typeof openLoginUrl === 'function';
  handle(LOCAL_CHANNELS.state, async () => ({ state: client.state ?? 'running', canOpenOrgs }));
  handle(LOCAL_CHANNELS.restart, async () => {
    if (typeof client.restart !== 'function') throw toIpcError({ code: 'INTERNAL', message: 'This client cannot restart the sidecar.' });
    await client.restart();
    return { state: client.state ?? 'running' };
  });
  const local = [LOCAL_CHANNELS.state, LOCAL_CHANNELS.restart];
  if (canOpenOrgs) {
    local.push(LOCAL_CHANNELS.open);
    handle(LOCAL_CHANNELS.open, async (event, agentId) => {
      const { loginUrl, org } = await client.request('agent:loginUrl', [agentId]);
      try {
        await openLoginUrl(loginUrl, { agentId, org, event });
      } catch {
        // The app's error could quote the URL: say what failed without it.
        throw toIpcError({ code: 'OPEN_FAILED', message: `The app could not open ${org?.alias ?? 'the org'}.` });
      }
      return { opened: true, org };
    });
  }

  /**
   * @param {string} channel
   * @param {unknown} payload
   */
  const broadcast = (channel, payload) => {
    for (const win of getWindows() ?? []) {
      const w = /** @type {any} */ (win);
      if (typeof w.isDestroyed === 'function' && w.isDestroyed()) continue;
      const contents = w.webContents ?? w;
      if (!contents || typeof contents.send !== 'function') continue;
      if (typeof contents.isDestroyed === 'function' && contents.isDestroyed()) continue;
      try {
        contents.send(channel, payload);
      } catch {
        /* a window closing while we send: skip it */
      }
    }
  };

  /** @type {[string, (...args: any[]) => void][]} */
  const listeners = [
    ['notification', (method, params) => {
      if (forward(method)) broadcast(method, params);
    }],
    ['exit', (info) => {
      if (!info.expected) broadcast(SIDECAR_STATE_CHANNEL, { state: 'exited', code: info.code, signal: info.signal });
    }],
    ['restarting', (info) => broadcast(SIDECAR_STATE_CHANNEL, { state: 'restarting', attempt: info.attempt, delayMs: info.delayMs })],
    ['restarted', (info) => broadcast(SIDECAR_STATE_CHANNEL, { state: 'running', attempt: info.attempt })],
    ['gave-up', (info) => broadcast(SIDECAR_STATE_CHANNEL, { state: 'failed', attempts: info.attempts })],
  ];
  for (const [event, listener] of listeners) client.on(event, listener);

  return function dispose() {
    for (const channel of [...channels, ...local]) ipcMain.removeHandler(channel);
    for (const [event, listener] of listeners) client.removeListener(event, listener);
  };
}

module.exports = { registerOrgChannels, RENDERER_CHANNELS, SIDECAR_STATE_CHANNEL, LOCAL_CHANNELS };
