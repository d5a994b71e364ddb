'use strict';
/** Process helpers for the tests. */
const fs = require('node:fs');
const path = require('node:path');

/**
 * True while a process exists and is not a zombie (an orphan killed in a container whose PID 1 does not reap
 * stays a zombie for a while, but it is gone for every practical purpose).
 * @param {number} pid
 */
function isAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (err.code === 'ESRCH') return false;
    throw err;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * Polls until `predicate()` is truthy.
 * @template T
 * @param {() => T | Promise<T>} predicate
 * @param {{timeoutMs?: number, intervalMs?: number, what?: string}} [options]
 * @returns {Promise<T>}
 */
async function waitFor(predicate, { timeoutMs = 5000, intervalMs = 20, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Resolves with the next emission of `event` (its first argument).
 * @param {import('node:events').EventEmitter} emitter
 * @param {string} event
 * @param {number} [timeoutMs]
 */
function nextEvent(emitter, event, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.removeListener(event, on);
      reject(new Error(`no '${event}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    const on = (value) => {
      clearTimeout(timer);
      resolve(value);
    };
    emitter.once(event, on);
  });
}

const STAND_IN = path.join(__dirname, '..', 'fixtures', 'stand-in-sidecar.js');

/**
 * Options for a SidecarClient running the Node stand-in instead of Python.
 * @param {string[]} [flags]
 * @param {object} [extra]
 */
function standInOptions(flags = [], extra = {}) {
  return { command: process.execPath, args: [STAND_IN, ...flags], ...extra };
}

module.exports = { isAlive, waitFor, nextEvent, standInOptions, STAND_IN };

/**
 * Pids of live processes whose command line contains `needle` (Linux /proc); for "nothing left behind" checks.
 * @param {string} needle
 * @returns {number[]}
 */
function processesMentioning(needle) {
  const found = [];
  let entries = [];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(needle) && isAlive(pid)) found.push(pid);
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}

module.exports.processesMentioning = processesMentioning;

/**
 * Live processes started with `name=value` in their environment (Linux /proc), with their command lines: finds
 * the fake `sf` a sidecar started (and its children) by the state file it was given.
 * @param {string} name
 * @param {string} value
 * @returns {{pid: number, cmdline: string}[]}
 */
function processesWithEnv(name, value) {
  const wanted = `${name}=${value}`;
  const found = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const environ = fs.readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (!environ.includes(wanted) || !isAlive(Number(entry))) continue;
      found.push({ pid: Number(entry), cmdline: fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim() });
    } catch {
      /* gone meanwhile, or not ours to read */
    }
  }
  return found;
}

module.exports.processesWithEnv = processesWithEnv;
