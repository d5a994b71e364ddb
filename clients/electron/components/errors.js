/**
 * Page-side reading of errors from `window.sweatshop`.
 *
 * The preload rejects with an Error that has `.code`, but Electron's `contextBridge` copies only the *message*
 * of an error into the page; the message therefore starts with `[CODE] `. These helpers read the code from
 * either place, so page code works the same with and without context isolation.
 * @module components/errors
 */

const PREFIX = /\[([A-Z][A-Z0-9_]*)\] ([\s\S]*)$/;

/**
 * @param {unknown} err
 * @returns {string} the sidecar's error code (`CAPACITY_REACHED`, `ORG_LEASED`, ...), or `INTERNAL`
 */
export function errorCode(err) {
  const e = /** @type {any} */ (err);
  if (e && typeof e.code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(e.code)) return e.code;
  const match = PREFIX.exec(String(e?.message ?? e ?? ''));
  return match ? match[1] : 'INTERNAL';
}

/**
 * @param {unknown} err
 * @returns {string} the sentence for a person, without the code prefix or Electron's "Error invoking ..." text
 */
export function errorText(err) {
  const e = /** @type {any} */ (err);
  if (e && typeof e.detail === 'string') return e.detail;
  const message = String(e?.message ?? e ?? 'Something went wrong.');
  const match = PREFIX.exec(message);
  return match ? match[2] : message.replace(/^Error invoking remote method '[^']*': (?:\w*Error: )?/, '');
}
