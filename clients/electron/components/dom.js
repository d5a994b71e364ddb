/**
 * Tiny DOM helpers for the components: elements are built with `createElement` and `textContent`, never from
 * HTML strings, so data from the sidecar cannot inject markup and nothing needs an inline style or handler
 * (the components run under `Content-Security-Policy: default-src 'self'`).
 *
 * The module also loads in Node (no DOM): `BaseElement` is then a plain class and `sheet()` returns null, so
 * Node-side tools can import the components for their pure helpers and typings.
 * @module components/dom
 */

/** `HTMLElement` in a browser; a plain class in Node, where the elements are never constructed. */
export const BaseElement = /** @type {typeof HTMLElement} */ (globalThis.HTMLElement ?? class {});

/**
 * Defines a custom element once (a second copy of the module, or Node, does nothing).
 * @param {string} name
 * @param {CustomElementConstructor} ctor
 */
export function define(name, ctor) {
  const registry = globalThis.customElements;
  if (registry && !registry.get(name)) registry.define(name, ctor);
}

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
 * Sets a node's text only when it differs (no needless layout, and a text node a screen reader is on stays).
 * @param {Node} node
 * @param {string} text
 */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/**
 * A constructable stylesheet (allowed under a strict CSP: it is neither an inline `<style>` nor a `style=`
 * attribute); null outside a browser.
 * @param {string} cssText
 * @returns {CSSStyleSheet}
 */
export function sheet(cssText) {
  if (typeof globalThis.CSSStyleSheet !== 'function' || typeof document === 'undefined') return /** @type {any} */ (null);
  const s = new CSSStyleSheet();
  s.replaceSync(cssText);
  return s;
}

/**
 * Runs `fn` once per animation frame however often it is asked for: a burst of notifications renders once.
 * @param {() => void} fn
 * @returns {() => void} request a run
 */
export function perFrame(fn) {
  let queued = false;
  const run = () => {
    queued = false;
    fn();
  };
  return () => {
    if (queued) return;
    queued = true;
    if (typeof requestAnimationFrame === 'function' && document.visibilityState !== 'hidden') requestAnimationFrame(run);
    else setTimeout(run, 16);
  };
}

/** @returns {Element | null} the focused element, looking inside open shadow roots */
export function deepActiveElement() {
  let el = document.activeElement;
  while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
  return el;
}

/**
 * Coalesces a burst of calls into few runs: `fn` runs in an animation frame once the calls paused for `quietMs`,
 * and at least every `maxWaitMs` while they keep coming (a long stream still shows progress).
 * @param {() => void} fn
 * @param {{quietMs?: number, maxWaitMs?: number}} [options]
 * @returns {{request: () => void, cancel: () => void}}
 */
export function coalesce(fn, { quietMs = 60, maxWaitMs = 400 } = {}) {
  /** @type {ReturnType<typeof setTimeout> | null} */
  let timer = null;
  let first = 0;
  const frame = perFrame(fn);
  const fire = () => {
    timer = null;
    first = 0;
    frame();
  };
  return {
    request() {
      const now = Date.now();
      if (!first) first = now;
      if (timer) clearTimeout(timer);
      timer = setTimeout(fire, Math.max(0, Math.min(quietMs, first + maxWaitMs - now)));
    },
    cancel() {
      if (timer) clearTimeout(timer);
      timer = null;
      first = 0;
    },
  };
}
