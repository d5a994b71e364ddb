'use strict';
/**
 * Launching Debian's Chromium with playwright-core (never a downloaded browser): headless, no sandbox (we run as
 * root in CI containers), no network chatter, a fresh profile per launch.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(Boolean);

const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** @returns {string | null} */
function findChromium() {
  return CANDIDATES.find((p) => fs.existsSync(p)) ?? null;
}

/**
 * For `test(..., {skip: chromiumSkip()})`: false when Chromium and playwright-core are there, else the reason.
 * @returns {false | string}
 */
function chromiumSkip() {
  if (!findChromium()) {
    return `no Chromium at ${CANDIDATES.join(' or ')}: install Debian's package (apt-get install -y chromium); run-tests.sh does`;
  }
  try {
    require.resolve('playwright-core');
  } catch {
    return 'playwright-core is not installed: run npm ci in clients/electron';
  }
  return false;
}

/**
 * @returns {Promise<{context: import('playwright-core').BrowserContext, close: () => Promise<void>}>}
 */
async function launch() {
  const { chromium } = require('playwright-core');
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sweatshop-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: findChromium() ?? undefined,
    headless: true,
    args: ARGS,
    viewport: { width: 900, height: 560 },
    deviceScaleFactor: 1,
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  return {
    context,
    close: async () => {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

module.exports = { findChromium, chromiumSkip, launch, ARGS };
