/**
 * Formatting shared by the components.
 * @module components/format
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * Time left until an ISO 8601 instant, short and human: `3d 4h`, `5h 12m`, `42m`, `expired`, `unknown`.
 * @param {string | null | undefined} expiresAt
 * @param {number} [now] epoch milliseconds
 * @returns {string}
 */
export function timeToExpiry(expiresAt, now = Date.now()) {
  if (!expiresAt) return 'unknown';
  const at = Date.parse(expiresAt);
  if (Number.isNaN(at)) return 'unknown';
  const left = at - now;
  if (left <= 0) return 'expired';
  if (left < HOUR) return `${Math.max(1, Math.floor(left / MINUTE))}m`;
  if (left < 2 * DAY) return `${Math.floor(left / HOUR)}h ${Math.floor((left % HOUR) / MINUTE)}m`;
  return `${Math.floor(left / DAY)}d ${Math.floor((left % DAY) / HOUR)}h`;
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
