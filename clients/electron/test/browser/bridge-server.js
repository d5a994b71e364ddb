'use strict';
/**
 * The browser tests' test bridge: a small HTTP server on 127.0.0.1 (random port) that serves the test page,
 * the components and the real preload.js, every response with `Content-Security-Policy: default-src 'self'`,
 * and forwards the page's `window.sweatshop` calls to the real ipc.js handlers (registered on a stand-in
 * ipcMain) in front of a real sidecar. Notifications reach the page through Server-Sent Events, as
 * `webContents.send` would.
 */
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { registerOrgChannels } = require('../../ipc');
const { FakeIpcMain } = require('../helpers/fake-electron');

const ROOT = path.resolve(__dirname, '..', '..');
const STATIC = path.join(__dirname, 'static');
const CSP = "default-src 'self'";
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

/**
 * @param {import('../../sidecar-client').SidecarClient} client
 * @param {import('../../ipc').RegisterOptions} [registerOptions] passed to registerOrgChannels (e.g. openLoginUrl)
 * @returns {Promise<{url: string, close: () => Promise<void>, invokes: {channel: string, args: unknown[]}[]}>}
 */
async function startBridgeServer(client, registerOptions = {}) {
  /** @type {Set<import('node:http').ServerResponse>} */
  const streams = new Set();
  const sseWindow = {
    webContents: {
      send(channel, payload) {
        const frame = `data: ${JSON.stringify({ channel, payload })}\n\n`;
        for (const res of streams) res.write(frame);
      },
      isDestroyed: () => false,
    },
  };
  const ipcMain = new FakeIpcMain();
  const dispose = registerOrgChannels(ipcMain, client, () => [sseWindow], registerOptions);
  const invokes = [];

  const preloadSource = () => [
    '(function () {',
    "  'use strict';",
    '  const electron = window.__electronForPreload;',
    '  delete window.__electronForPreload;',
    "  const require = (name) => { if (name === 'electron') return electron; throw new Error('a sandboxed preload cannot require ' + name); };",
    '  const module = { exports: {} };',
    fs.readFileSync(path.join(ROOT, 'preload.js'), 'utf8'),
    '})();',
  ].join('\n');

  const send = (res, status, type, body) => {
    res.writeHead(status, {
      'content-type': type,
      'content-security-policy': CSP,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    res.end(body);
  };

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    try {
      if (req.method === 'GET' && url.pathname === '/') {
        return send(res, 200, TYPES['.html'], fs.readFileSync(path.join(STATIC, 'index.html')));
      }
      if (req.method === 'GET' && url.pathname === '/favicon.ico') {
        res.writeHead(204, { 'content-security-policy': CSP });
        return res.end();
      }
      if (req.method === 'GET' && url.pathname === '/preload.js') return send(res, 200, TYPES['.js'], preloadSource());
      if (req.method === 'GET' && (url.pathname.startsWith('/components/') || url.pathname.startsWith('/static/'))) {
        const base = url.pathname.startsWith('/components/') ? path.join(ROOT, 'components') : STATIC;
        const rel = url.pathname.replace(/^\/(components|static)\//, '');
        const file = path.resolve(base, rel);
        if (!file.startsWith(base + path.sep) || !fs.existsSync(file)) return send(res, 404, 'text/plain', 'not found');
        return send(res, 200, TYPES[path.extname(file)] ?? 'application/octet-stream', fs.readFileSync(file));
      }
      if (req.method === 'GET' && url.pathname === '/ipc/events') {
        res.writeHead(200, {
          'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive',
          'content-security-policy': CSP,
        });
        res.write(': connected\n\n');
        streams.add(res);
        req.on('close', () => streams.delete(res));
        return undefined;
      }
      if (req.method === 'POST' && url.pathname === '/ipc/invoke') {
        const chunks = [];
        for await (const chunk of req) chunks.push(chunk);
        const { channel, args } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        invokes.push({ channel, args });
        const handler = ipcMain.handlers.get(channel);
        if (!handler) {
          return send(res, 200, 'application/json', JSON.stringify({ error: `Error: No handler registered for '${channel}'` }));
        }
        try {
          const result = await handler({ sender: sseWindow.webContents, senderFrame: { url: 'http://127.0.0.1/' } }, ...args);
          return send(res, 200, 'application/json', JSON.stringify({ result: result ?? null }));
        } catch (err) {
          return send(res, 200, 'application/json', JSON.stringify({ error: String(err) }));
        }
      }
      return send(res, 404, 'text/plain', 'not found');
    } catch (err) {
      return send(res, 500, 'text/plain', String(err));
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${port}/`,
    invokes,
    close: async () => {
      dispose();
      for (const res of streams) res.end();
      streams.clear();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

module.exports = { startBridgeServer, CSP };
