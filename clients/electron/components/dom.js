/**
 * Tiny DOM helpers for the components: elements are built with `createElement` and `textContent`, never from
 * HTML strings, so data from the sidecar cannot inject markup and nothing needs an inline style or handler
 * (the components run under `Content-Security-Policy: default-src 'self'`).
 * @module components/dom
 */

/**
 * @typedef {Record<string, unknown> & {class?: string, dataset?: Record<string, string>}} Props
 * `on<event>` keys with a function value become event listeners; `true` sets an empty attribute; `false`,
 * `null` and `undefined` are skipped; everything else is set as an attribute.
 */

/**
 * Creates an element.
 * @param {string} tag
 * @param {Props | null} [props]
 * @param {...(Node | string | number | null | undefined | false | Array<any>)} children
 * @returns {HTMLElement}
 */
export function h(tag, props = null, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = String(value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), /** @type {any} */ (value));
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/**
 * Appends children (flattening arrays, skipping empty values).
 * @param {Node} parent
 * @param {Array<any>} children
 */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/**
 * Replaces all children of a node.
 * @param {Node} parent
 * @param {...any} children
 */
export function replaceChildren(parent, ...children) {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, children);
}

/**
 * A constructable stylesheet (allowed under a strict CSP: it is neither an inline `<style>` nor a `style=`
 * attribute).
 * @param {string} cssText
 * @returns {CSSStyleSheet}
 */
export function sheet(cssText) {
  const s = new CSSStyleSheet();
  s.replaceSync(cssText);
  return s;
}
