'use strict';
/**
 * Preload script: exposes `window.sweatshop` through `contextBridge`. The page gets functions only; no
 * `ipcRenderer`, no IPC event objects (their `sender` is the ipcRenderer) ever reach it.
 *
 * Self-contained on purpose: a sandboxed preload (Electron's default) can `require('electron')` but not local
 * files, so the error decoding below mirrors `errors.js#decodeIpcError` (a unit test keeps the two in step).
 *
 * Use it as `webPreferences: { preload: require.resolve('<this package>/preload.js'), contextIsolation: true,
 * sandbox: true }`.
 */

/**
 * @param {unknown} err what `ipcRenderer.invoke` rejected with:
 *   "Error invoking remote method 'org:claim': Error: [ORG_LEASED] ..."
 * @returns {Error & {code: string, detail: string}} an Error with `.code`; its message keeps `[CODE] ` in front
 *   because `contextBridge` copies only the message of an error into the page
 */
function decodeIpcError(err) {
  const e = /** @type {any} */ (err);
  const raw = e && typeof e === 'object' && typeof e.message === 'string' ? e.message : String(err);
  const match = /\[([A-Z][A-Z0-9_]*)\] ([\s\S]*)$/.exec(raw);
  const code = match ? match[1] : 'INTERNAL';
  const detail = match ? match[2] : raw.replace(/^Error invoking remote method '[^']*': (?:\w*Error: )?/, '');
  const out = /** @type {Error & {code: string, detail: string}} */ (new Error(`[${code}] ${detail}`));
  out.name = 'SidecarError';
  out.code = code;
  out.detail = detail;
  return out;
}

/**
 * Builds the API object of `window.sweatshop` on top of an `ipcRenderer`.
 * @param {{invoke: (channel: string, ...args: any[]) => Promise<any>,
 *          on: (channel: string, listener: (event: any, payload: any) => void) => any,
 *          removeListener: (channel: string, listener: (event: any, payload: any) => void) => any}} ipcRenderer
 * @returns {import('./api').SweatshopApi}
 */
function buildSweatshopApi(ipcRenderer) {
  /**
   * @param {string} channel
   * @param {...unknown} args
   */
  const invoke = (channel, ...args) =>
    ipcRenderer.invoke(channel, ...args).catch((err) => {
      throw decodeIpcError(err);
    });
  /**
   * @param {string} channel
   * @returns {(callback: (payload: any) => void) => () => void}
   */
  const subscription = (channel) => (callback) => {
    if (typeof callback !== 'function') throw new TypeError(`${channel}: callback must be a function`);
    const listener = (_event, payload) => callback(payload);
    ipcRenderer.on(channel, listener);
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      ipcRenderer.removeListener(channel, listener);
    };
  };
  /** Optional trailing options object: only sent when given, so the sidecar's defaults apply otherwise. */
  const withOptions = (channel, first, options) =>
    options === undefined ? invoke(channel, first) : invoke(channel, first, options);

  return {
    orgs: {
      list: () => invoke('org:list'),
      getStatus: () => invoke('org:status'),
      claim: (agentId) => invoke('org:claim', agentId),
      release: (orgId, agentId) => withOptions('org:release', orgId, agentId),
      discover: () => invoke('org:discover'),
      register: (alias, options) => withOptions('org:register', alias, options),
      remove: (orgId, options) => withOptions('org:remove', orgId, options),
      onChanged: subscription('org:changed'),
      onDiscovery: subscription('org:discovery'),
    },
    auth: {
      session: () => invoke('auth:session'),
      signOut: () => invoke('auth:signOut'),
    },
    governance: {
      home: () => invoke('governance:home'),
      overview: () => invoke('governance:overview'),
      reapplyDefaults: (poolId) => invoke('governance:reapplyDefaults', poolId),
      onChanged: subscription('governance:changed'),
    },
    agents: {
      open: (agentId) => invoke('agent:open', agentId),
      onStatus: subscription('agent:status'),
      onTerminalOutput: subscription('terminal:output'),
    },
    sidecar: {
      state: () => invoke('sidecar:state'),
      restart: () => invoke('sidecar:restart'),
      onState: subscription('sidecar:state'),
    },
  };
}

/** Exposes the API when running as an Electron preload; does nothing elsewhere (tests, bundlers). */
function exposeSweatshopApi(electron) {
  if (!electron || typeof electron !== 'object' || !electron.contextBridge || !electron.ipcRenderer) return false;
  electron.contextBridge.exposeInMainWorld('sweatshop', buildSweatshopApi(electron.ipcRenderer));
  return true;
}

let electronModule = null;
try {
  // In plain Node this throws (or, with the `electron` npm package installed, returns a path string).
  // @ts-ignore -- only resolvable inside Electron
  electronModule = require('electron');
} catch {
  electronModule = null;
}
exposeSweatshopApi(electronModule);

if (typeof module === 'object' && module && module.exports) {
  module.exports = { buildSweatshopApi, decodeIpcError, exposeSweatshopApi };
}
