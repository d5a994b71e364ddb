'use strict';
/**
 * Recording stand-ins for Electron's `ipcMain`, `webContents`/`BrowserWindow` and `ipcRenderer`, wired the way
 * Electron wires them: `invoke` calls the handler and, on a throw, rejects with
 * `Error("Error invoking remote method '<channel>': <String(error)>")` (custom properties dropped); `send`
 * delivers `(event, payload)` to the renderer's listeners.
 */
const { EventEmitter } = require('node:events');

class FakeIpcMain {
  constructor() {
    /** @type {Map<string, Function>} */
    this.handlers = new Map();
    this.calls = [];
  }

  handle(channel, handler) {
    if (this.handlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
    this.handlers.set(channel, handler);
  }

  removeHandler(channel) {
    this.handlers.delete(channel);
  }

  /** What `ipcRenderer.invoke` does in Electron. */
  async invoke(sender, channel, ...args) {
    const handler = this.handlers.get(channel);
    this.calls.push({ channel, args });
    if (!handler) throw new Error(`Error invoking remote method '${channel}': Error: No handler registered for '${channel}'`);
    // Electron structured-clones the arguments.
    const cloned = structuredClone(args);
    try {
      return structuredClone(await handler({ sender, senderFrame: { url: sender.url } }, ...cloned));
    } catch (err) {
      throw new Error(`Error invoking remote method '${channel}': ${err}`);
    }
  }
}

class FakeWebContents {
  constructor(url = 'app://sweatshop/index.html') {
    this.url = url;
    this.sent = [];
    this.destroyed = false;
    this.renderer = new EventEmitter();
  }

  send(channel, payload) {
    if (this.destroyed) throw new Error('Object has been destroyed');
    const cloned = structuredClone(payload);
    this.sent.push({ channel, payload: cloned });
    this.renderer.emit(channel, { sender: 'ipcRenderer-would-be-here' }, cloned);
  }

  isDestroyed() {
    return this.destroyed;
  }
}

class FakeWindow {
  constructor(url) {
    this.webContents = new FakeWebContents(url);
    this.destroyed = false;
  }

  isDestroyed() {
    return this.destroyed;
  }
}

/**
 * An ipcRenderer for one window, talking to `ipcMain`.
 * @param {FakeIpcMain} ipcMain
 * @param {FakeWindow} win
 */
function fakeIpcRenderer(ipcMain, win) {
  return {
    invoke: (channel, ...args) => ipcMain.invoke(win.webContents, channel, ...args),
    on: (channel, listener) => win.webContents.renderer.on(channel, listener),
    removeListener: (channel, listener) => win.webContents.renderer.removeListener(channel, listener),
    listenerCount: (channel) => win.webContents.renderer.listenerCount(channel),
  };
}

module.exports = { FakeIpcMain, FakeWebContents, FakeWindow, fakeIpcRenderer };
