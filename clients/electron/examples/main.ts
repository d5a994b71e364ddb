// The main process of an Electron app using SweatShop (the README's example; `tsc --noEmit --strict` checks it
// against Electron's own electron.d.ts in run-tests.sh).
import path from 'node:path';
import { app, BrowserWindow, ipcMain, shell } from 'electron';
import { SidecarClient, registerOrgChannels } from '@sweatshop/electron-sidecar-client';

const client = new SidecarClient({
  python: '/opt/sweatshop/.venv/bin/python', // absolute: an app started from a desktop launcher has no shell PATH
  cwd: '/opt/sweatshop', // where the `sidecar` package is importable
  home: path.join(app.getPath('userData'), 'sweatshop'), // settings.json and sidecar.db live here
});
client.on('stderr', (line) => console.log('[sidecar]', line)); // the sidecar logs on stderr
client.on('restarting', ({ attempt, delayMs }) => console.warn(`sidecar restart #${attempt} in ${delayMs} ms`));

app.whenReady().then(async () => {
  await client.start();
  await client.checkProtocol('1'); // refuse a sidecar that speaks another major protocol version

  registerOrgChannels(ipcMain, client, () => BrowserWindow.getAllWindows(), {
    // Only your own pages may call the sidecar. senderFrame is null once the frame navigated away or was
    // destroyed: refuse those callers.
    validateSender: (event) => {
      const frame = event.senderFrame;
      return frame !== null && new URL(frame.url).protocol === 'file:';
    },
    // The Open action: a single-use login URL (a credential) for the org an agent holds. Open it in your QA
    // browser pane or the system browser; never log or store it.
    openLoginUrl: (url) => shell.openExternal(url),
  });

  const win = new BrowserWindow({
    webPreferences: {
      preload: require.resolve('@sweatshop/electron-sidecar-client/preload'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
    },
  });
  await win.loadFile('index.html');
});

// OIDC: the main process completes the flow, verifies the ID token, and hands the claims to the sidecar.
// `auth:signIn` is deliberately NOT a renderer channel: a page must not be able to assert claims.
export async function onOidcVerified(claims: { iss: string; sub: string; email?: string; name?: string }, idToken: string): Promise<void> {
  await client.request('auth:signIn', [{ claims, idToken }]);
}

// A slow request the person gave up on: aborting cancels it in the sidecar too (and stops its `sf`).
export async function discoverWithCancel(signal: AbortSignal): Promise<number> {
  const orgs = await client.request('org:discover', [], { signal });
  return orgs.length;
}

// Quit cleanly: close() ends the sidecar's stdin (it exits within 2 s), then kills its process group.
app.on('will-quit', (event) => {
  if (client.state === 'closed') return;
  event.preventDefault();
  client.close().finally(() => app.quit());
});
