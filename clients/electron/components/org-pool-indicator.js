/**
 * `<org-pool-indicator>`: "Orgs: 2/4 available" with a dot colored by the sidecar's `indicator.level`
 * (green, yellow, red), live on `org:changed`. Clicking it (or Enter/Space) opens the list of orgs with alias,
 * status, assigned agent and time to expiry; Escape or a click elsewhere closes it.
 *
 * Data comes from `element.api` if set, else `window.sweatshop` (the preload API).
 * @module components/org-pool-indicator
 */
import { h, replaceChildren, sheet } from './dom.js';
import { baseSheet } from './theme.js';
import { errorText } from './errors.js';
import { levelWords } from './format.js';
import './org-list.js';

const indicatorSheet = sheet(`
:host { display: inline-block; position: relative; font-weight: 400; }
button.indicator {
  display: inline-flex; align-items: center; gap: 8px;
  background: var(--_surface); border: 1px solid var(--_border);
  border-radius: 999px; padding: 3px 12px 3px 10px;
}
.popover {
  position: absolute; z-index: 10; top: calc(100% + 6px); left: 0;
  min-width: 420px; max-height: 60vh; overflow: auto;
  background: var(--_bg); color: var(--_fg);
  border: 1px solid var(--_border); border-radius: var(--_radius);
  box-shadow: 0 8px 24px rgba(0, 0, 0, 0.15);
  padding: 8px 10px;
}
:host([align="end"]) .popover { left: auto; right: 0; }
.popover h2 { font-size: 13px; margin: 2px 0 6px; }
`);

export class OrgPoolIndicator extends HTMLElement {
  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.adoptedStyleSheets = [baseSheet, indicatorSheet];
    this._dot = h('span', { class: 'dot', part: 'dot', 'aria-hidden': 'true', dataset: { level: 'unknown' } });
    this._label = h('span', { class: 'label', part: 'label' }, 'Orgs: …');
    this._button = h('button', {
      type: 'button', class: 'indicator', part: 'button',
      'aria-expanded': 'false', 'aria-controls': 'org-popover',
    }, this._dot, this._label);
    this._list = /** @type {any} */ (h('sweatshop-org-list'));
    this._heading = h('h2', { id: 'org-popover-title' }, 'Scratch orgs');
    this._error = h('p', { class: 'message', dataset: { kind: 'error' }, hidden: true });
    this._popover = h('div', {
      id: 'org-popover', class: 'popover', part: 'popover', role: 'region',
      'aria-labelledby': 'org-popover-title', hidden: true,
    }, this._heading, this._error, this._list);
    root.append(this._button, this._popover);

    /** @type {any} */
    this._api = null;
    /** @type {Array<() => void>} */
    this._unsubscribe = [];
    /** bumped by every notification, so an older status answer never overwrites a newer one */
    this._version = 0;
    /** @type {any} */
    this.status = null;

    this._button.addEventListener('click', () => this.toggle());
    this._onKeydown = (/** @type {KeyboardEvent} */ e) => {
      if (e.key === 'Escape' && this.expanded) {
        e.stopPropagation();
        this.toggle(false);
        this._button.focus();
      }
    };
    this._onOutside = (/** @type {Event} */ e) => {
      if (this.expanded && !e.composedPath().includes(this)) this.toggle(false);
    };
    this.addEventListener('keydown', this._onKeydown);
  }

  /** The preload API to use; defaults to `window.sweatshop`. Setting it reconnects. */
  set api(api) {
    this._api = api;
    if (this.isConnected) this._connect();
  }

  get api() {
    return this._api ?? /** @type {any} */ (globalThis).sweatshop ?? null;
  }

  /** @returns {boolean} whether the list is open */
  get expanded() {
    return !this._popover.hidden;
  }

  connectedCallback() {
    document.addEventListener('pointerdown', this._onOutside, true);
    this._connect();
  }

  disconnectedCallback() {
    document.removeEventListener('pointerdown', this._onOutside, true);
    this._disconnect();
  }

  _disconnect() {
    for (const off of this._unsubscribe.splice(0)) {
      try {
        off();
      } catch {
        /* already gone */
      }
    }
  }

  _connect() {
    this._disconnect();
    const api = this.api;
    if (!api?.orgs) {
      this._renderStatus(null, 'The SweatShop bridge is not available in this window.');
      return;
    }
    this._unsubscribe.push(api.orgs.onChanged((/** @type {any} */ change) => {
      this._version += 1;
      if (change?.status) this._renderStatus(change.status);
      else this.refresh();
      if (this.expanded) this._loadList();
    }));
    if (api.governance?.onChanged) {
      // Signing in or out changes the effective capacity (maxOrgs); the notification carries the new status.
      this._unsubscribe.push(api.governance.onChanged((/** @type {any} */ change) => {
        this._version += 1;
        if (change?.status) this._renderStatus(change.status);
        else this.refresh();
      }));
    }
    if (api.sidecar?.onState) {
      this._unsubscribe.push(api.sidecar.onState((/** @type {any} */ state) => {
        if (state?.state === 'running') this.refresh();
        else this._renderStatus(null, 'The SweatShop sidecar is restarting.');
      }));
    }
    this.refresh();
  }

  /**
   * Fetches the status again (it normally arrives with every `org:changed`).
   * @returns {Promise<void>}
   */
  async refresh() {
    const api = this.api;
    if (!api?.orgs) return;
    const version = this._version;
    try {
      const status = await api.orgs.getStatus();
      if (version === this._version) this._renderStatus(status);
    } catch (err) {
      if (version === this._version) this._renderStatus(null, errorText(err));
    }
  }

  /**
   * Opens or closes the list.
   * @param {boolean} [open]
   */
  toggle(open = !this.expanded) {
    this._popover.hidden = !open;
    this._button.setAttribute('aria-expanded', String(open));
    if (open) this._loadList();
    this.dispatchEvent(new CustomEvent('toggle', { detail: { open } }));
  }

  async _loadList() {
    const api = this.api;
    if (!api?.orgs) return;
    const version = this._version;
    try {
      const orgs = await api.orgs.list();
      if (version !== this._version) return; // a newer change triggered its own load
      this._error.hidden = true;
      this._list.orgs = orgs;
    } catch (err) {
      this._error.hidden = false;
      replaceChildren(this._error, errorText(err));
    }
  }

  /**
   * @param {any} status the `org:status` result
   * @param {string} [problem] shown instead when there is no status
   */
  _renderStatus(status, problem) {
    this.status = status;
    const level = status?.indicator?.level ?? 'unknown';
    const label = status?.indicator?.label
      ?? (status ? `Orgs: ${status.available}/${status.maxOrgs} available` : 'Orgs: unavailable');
    this._dot.dataset.level = level;
    this.dataset.level = level;
    replaceChildren(this._label, label);
    const words = status ? `${label}, ${levelWords(level)}` : `${label}. ${problem ?? ''}`.trim();
    this._button.setAttribute('aria-label', `${words}. Show the scratch orgs`);
    this._button.title = status
      ? `${status.available} available, ${status.leased} leased, ${status.expired} expired (of at most ${status.maxOrgs})`
      : (problem ?? '');
  }
}

if (!customElements.get('org-pool-indicator')) customElements.define('org-pool-indicator', OrgPoolIndicator);
