'use strict';
/**
 * Finding and configuring the real Python sidecar for integration and browser tests.
 *
 * `SWEATSHOP_PYTHON` names the interpreter (default: the repository's `.venv/bin/python`). When the sidecar
 * cannot be imported the tests skip with the reason, unless `SWEATSHOP_REQUIRE_SIDECAR=1` (set by
 * `run-tests.sh`), which turns the skip into a failure.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const PYTHON = path.resolve(process.env.SWEATSHOP_PYTHON || path.join(REPO_ROOT, '.venv', 'bin', 'python'));
const FAKE_SF = path.join(REPO_ROOT, 'sidecar', 'fakesf', 'bin', 'sf');

let probed = null;

/**
 * @returns {{ok: true} | {ok: false, reason: string}} whether `python -m sidecar --help` works
 */
function probeSidecar() {
  if (probed) return probed;
  if (!fs.existsSync(PYTHON)) {
    probed = { ok: false, reason: `no Python at ${PYTHON} (set SWEATSHOP_PYTHON or run make -C ${REPO_ROOT} venv)` };
    return probed;
  }
  const r = spawnSync(PYTHON, ['-m', 'sidecar', '--help'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000 });
  probed = r.status === 0
    ? { ok: true }
    : { ok: false, reason: `"${PYTHON} -m sidecar --help" failed (${r.status ?? r.error?.message}): ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}` };
  return probed;
}

/**
 * For `test(name, {skip: sidecarSkip()}, fn)`: false when the sidecar is usable; the reason when it is not.
 * Throws instead of skipping when SWEATSHOP_REQUIRE_SIDECAR=1.
 */
function sidecarSkip() {
  const p = probeSidecar();
  if (p.ok) return false;
  if (process.env.SWEATSHOP_REQUIRE_SIDECAR === '1') {
    throw new Error(`the real sidecar is required (SWEATSHOP_REQUIRE_SIDECAR=1) but unusable: ${p.reason}`);
  }
  return `real sidecar unavailable: ${p.reason}`;
}

/**
 * A fresh sidecar home with settings.json pointing at the fake sf, plus the fake sf's state file.
 * @param {{orgPool?: object, governance?: object, sfOrgs?: object[]}} [options]
 * @returns {{home: string, statePath: string, env: Record<string, string>, cleanup: () => void,
 *            writeSettings: (s: object) => void, writeSfState: (s: object) => void}}
 */
function makeHome(options = {}) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'sweatshop-electron-'));
  const statePath = path.join(home, 'fake-sf-state.json');
  const writeSettings = (settings) => fs.writeFileSync(path.join(home, 'settings.json'), JSON.stringify(settings, null, 2));
  const writeSfState = (state) => fs.writeFileSync(statePath, JSON.stringify(state, null, 2));
  const settings = { orgPool: { maxOrgs: 4, sfPath: FAKE_SF, refreshIntervalSeconds: 3600, ...(options.orgPool ?? {}) } };
  if (options.governance) settings.governance = options.governance;
  writeSettings(settings);
  writeSfState({ orgs: options.sfOrgs ?? [] });
  return {
    home,
    statePath,
    env: { SF_FAKE_STATE: statePath },
    writeSettings,
    writeSfState,
    cleanup: () => fs.rmSync(home, { recursive: true, force: true }),
  };
}

/**
 * SidecarClient options for the real sidecar in `home`.
 * @param {{home: string, env: Record<string, string>}} h
 * @param {object} [extra]
 */
function realOptions(h, extra = {}) {
  return { python: PYTHON, home: h.home, cwd: REPO_ROOT, ...extra, env: { ...h.env, ...(extra.env ?? {}) } };
}

module.exports = { REPO_ROOT, PYTHON, FAKE_SF, probeSidecar, sidecarSkip, makeHome, realOptions };
