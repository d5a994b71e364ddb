/**
 * Formatting shared by the components: pure functions, so they also load and run in Node.
 * @module components/format
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * Time left until an ISO 8601 instant, short and human: `3d 4h`, `5h 12m`, `42m`, `37s` (the last minute counts
 * seconds), `expired`, `unknown`.
 * @param {string | null | undefined} expiresAt
 * @param {number} [now] epoch milliseconds
 * @returns {string}
 */
export function timeToExpiry(expiresAt, now = Date.now()) {
  const at = instant(expiresAt);
  if (at === null) return 'unknown';
  const left = at - now;
  if (left <= 0) return 'expired';
  if (left < MINUTE) return `${Math.ceil(left / SECOND)}s`;
  if (left < HOUR) return `${Math.floor(left / MINUTE)}m`;
  if (left < 2 * DAY) return `${Math.floor(left / HOUR)}h ${Math.floor((left % HOUR) / MINUTE)}m`;
  return `${Math.floor(left / DAY)}d ${Math.floor((left % DAY) / HOUR)}h`;
}

/**
 * How long until any of these countdowns shows a different text: the next whole second while one of them is in
 * its last minute, else the next whole minute of the soonest. `null` when nothing counts down.
 * @param {Array<string | null | undefined>} expiries
 * @param {number} [now]
 * @returns {number | null} milliseconds
 */
export function nextTickMs(expiries, now = Date.now()) {
  let best = null;
  for (const expiresAt of expiries) {
    const at = instant(expiresAt);
    if (at === null || at <= now) continue;
    const left = at - now;
    const step = left <= MINUTE ? SECOND : MINUTE;
    const wait = (left % step) || step; // until `left` crosses the next multiple of the step
    if (best === null || wait < best) best = wait;
  }
  return best === null ? null : Math.max(50, best + 5);
}

/**
 * @param {string | null | undefined} iso
 * @returns {number | null} epoch milliseconds, or null
 */
export function instant(iso) {
  if (!iso) return null;
  const at = Date.parse(iso);
  return Number.isNaN(at) ? null : at;
}

/**
 * @param {string | null | undefined} iso
 * @returns {string} a local date and time, or an empty string
 */
export function localTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleString();
}

/**
 * @param {string | null | undefined} level `green` | `yellow` | `red`
 * @returns {string} words for the level, for people who do not see the dot's color
 */
export function levelWords(level) {
  if (level === 'green') return 'plenty available';
  if (level === 'yellow') return 'running low';
  if (level === 'red') return 'none available';
  return 'status unknown';
}

/** Entitlement keys of the plan catalog, in words for people, with how their value reads. */
const ENTITLEMENTS = Object.freeze({
  'scratchOrgs.maxActive': { label: 'Scratch orgs at once', value: (/** @type {unknown} */ v) => String(v) },
  'scratchOrgs.maxDurationDays': { label: 'Longest org life', value: (/** @type {unknown} */ v) => plural(Number(v), 'day') },
});

/**
 * @param {string} key a catalog key such as `scratchOrgs.maxActive`
 * @param {unknown} value
 * @returns {{label: string, value: string}} e.g. `{label: 'Longest org life', value: '7 days'}`; an unknown key
 *   is spelled out from its camelCase (`orgs.maxSandboxes` -> `Max sandboxes`)
 */
export function entitlementText(key, value) {
  const known = /** @type {Record<string, {label: string, value: (v: unknown) => string}>} */ (ENTITLEMENTS)[key];
  if (known) return { label: known.label, value: known.value(value) };
  const last = String(key).split('.').pop() ?? String(key);
  return { label: sentenceCase(last), value: typeof value === 'boolean' ? (value ? 'yes' : 'no') : String(value) };
}

/**
 * The plan a pool is on, for people: the product's display name when the sidecar sends one, else its key spelled
 * out (`public-tier` -> `Public tier`).
 * @param {any} ladder `{ladder, rank, product, productName?}` or null
 * @returns {string} e.g. `Public tier`, or an empty string
 */
export function planName(ladder) {
  if (!ladder || typeof ladder !== 'object') return '';
  if (typeof ladder.productName === 'string' && ladder.productName) return ladder.productName;
  if (typeof ladder.product === 'string' && ladder.product) return sentenceCase(ladder.product);
  return '';
}

/**
 * @param {string} word `maxActive`, `public-tier`, `team_tier`
 * @returns {string} `Max active`, `Public tier`, `Team tier`
 */
export function sentenceCase(word) {
  const spaced = String(word).replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[-_.]+/g, ' ').trim().toLowerCase();
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

/**
 * @param {number} n
 * @param {string} unit
 */
function plural(n, unit) {
  return Number.isFinite(n) ? `${n} ${unit}${n === 1 ? '' : 's'}` : `? ${unit}s`;
}
