// Test scaffold: what Electron gives a preload script, emulated over HTTP to the test bridge.
// - ipcRenderer.invoke -> POST /ipc/invoke; a handler error rejects like Electron does:
//   Error("Error invoking remote method '<channel>': Error: [CODE] message")
// - webContents.send -> Server-Sent Events on /ipc/events -> ipcRenderer.on listeners (event, payload)
// - contextBridge.exposeInMainWorld -> window[key], with contextBridge's copying of errors: only the message
//   of an error crosses into the page (custom properties such as .code are dropped).
(function () {
  'use strict';
  const listeners = new Map();
  const source = new EventSource('/ipc/events');
  source.addEventListener('message', (e) => {
    const { channel, payload } = JSON.parse(e.data);
    for (const l of [...(listeners.get(channel) || [])]) l({ senderId: 0 }, payload);
  });
  source.addEventListener('open', () => {
    window.__bridgeReady = true;
  });

  const ipcRenderer = {
    async invoke(channel, ...args) {
      const response = await fetch('/ipc/invoke', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ channel, args }),
      });
      const body = await response.json();
      if (Object.prototype.hasOwnProperty.call(body, 'error')) {
        throw new Error(`Error invoking remote method '${channel}': ${body.error}`);
      }
      return body.result;
    },
    on(channel, listener) {
      if (!listeners.has(channel)) listeners.set(channel, new Set());
      listeners.get(channel).add(listener);
      return ipcRenderer;
    },
    removeListener(channel, listener) {
      const set = listeners.get(channel);
      if (set) set.delete(listener);
      return ipcRenderer;
    },
  };

  const copyError = (err) => (err instanceof Error ? new Error(err.message) : err);
  const bridge = (value) => {
    if (typeof value === 'function') {
      return (...args) => {
        let result;
        try {
          result = value(...args);
        } catch (err) {
          throw copyError(err);
        }
        if (result && typeof result.then === 'function') return result.then(bridge, (err) => Promise.reject(copyError(err)));
        return bridge(result);
      };
    }
    if (Array.isArray(value)) return Object.freeze(value.map(bridge));
    if (value && typeof value === 'object') {
      const out = {};
      for (const [k, v] of Object.entries(value)) out[k] = bridge(v);
      return Object.freeze(out);
    }
    return value;
  };
  const contextBridge = {
    exposeInMainWorld(key, api) {
      Object.defineProperty(window, key, { value: bridge(api), enumerable: true });
    },
  };
  window.__electronForPreload = { contextBridge, ipcRenderer };
})();
