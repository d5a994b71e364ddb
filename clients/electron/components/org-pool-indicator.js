/**
 * `<org-pool-indicator>`: "Orgs: 2/4 available" with a dot colored by the sidecar's `indicator.level`
 * (green, yellow, red) and, for low and none, the words beside it ("running low", "none available"); orgs too
 * close to expiry to be claimed show as a separate note ("1 expiring soon") when the sidecar reports
 * `expiringSoon`. Live on `org:changed` (a burst renders a few times, not once per change). Clicking it (or
 * Enter/Space) opens the list of orgs; Escape, a click elsewhere or tabbing out closes it. The list never leaves
 * the viewport: it is placed under the button and kept inside the window, and becomes a sheet along the bottom
 * of a narrow window. While the sidecar is away the label says so and the list shows the outage banner.
 *
 * Data comes from `element.api` if set, else `window.sweatshop` (the preload API).
 * @module components/org-pool-indicator
 */
import { BaseElement, coalesce, define, h, setText, sheet } from './dom.js';
import { baseSheet } from './theme.js';
import { errorText } from './errors.js';
import { levelWords } from './format.js';
import { isOutage, outageBanner, watchSidecar } from './outage.js';
import './org-list.js';

/** Below this window width the list is a sheet along the bottom of the window. */
const SHEET_BELOW_PX = 560;
const MARGIN = 8;

const indicatorSheet = sheet(`
:host { display: inline-block; position: relative; font-weight: 400; }
button.indicator {
  display: inline-flex; align-items: center; gap: 8px; max-width: 100%;
  background: var(--_surface); border: 1px solid var(--_border);
  border-radius: 999px; padding: 3px 12px 3px 10px; white-space: nowrap;
}
.words { font-weight: 600; }
.words:empty, .soon:empty { display: none; }
.words[data-level="red"] { color: var(--_danger); }
.soon { color: var(--_muted); }
.popover {
  position: fixed; z-index: 1000; box-sizing: border-box;
  overflow: auto; overscroll-behavior: contain;
  background: var(--_bg); color: var(--_fg);
  border: 1px solid var(--_border); border-radius: var(--_radius);
  box-shadow: 0 8px 24px var(--_shadow);
  padding: 0 10px 8px;
}
.popover[data-sheet] { border-radius: var(--_radius) var(--_radius) 0 0; }
.popover h2 { font-size: 13px; margin: 0; padding: 8px 0 6px; }
`);

export class OrgPoolIndicator extends BaseElement {
  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.adoptedStyleSheets = [baseSheet, indicatorSheet];
    this._dot = h('span', { class: 'dot', part: 'dot', 'aria-hidden': 'true', dataset: { level: 'unknown' } });
    this._label = h('span', { class: 'label', part: 'label' }, 'Orgs: …');
    this._words = h('span', { class: 'words', part: 'words' });
    this._soon = h('span', { class: 'soon', part: 'soon' });
    this._button = h('button', {
      type: 'button', class: 'indicator', part: 'button',
      'aria-expanded': 'false', 'aria-controls': 'org-popover',
    }, this._dot, this._label, this._words, this._soon);
    this._list = /** @type {any} */ (h('sweatshop-org-list'));
    this._heading = h('h2', { id: 'org-popover-title' }, 'Scratch orgs');
    this._error = h('p', { class: 'message', dataset: { kind: 'error' }, role: 'status', 'aria-live': 'polite' });
    this._banner = outageBanner(() => this._watch?.retry());
    this._popover = h('div', {
      id: 'org-popover', class: 'popover', part: 'popover', role: 'region',
      'aria-labelledby': 'org-popover-title', hidden: true,
    }, this._heading, this._banner.el, this._error, this._list);
    root.append(this._button, this._popover);

    /** @type {any} */
    this._api = null;
    /** @type {Array<() => void>} */
    this._unsubscribe = [];
    /** bumped by every notification, so an older status answer never overwrites a newer one */
    this._version = 0;
    /** @type {any} the latest `org:status` (or notification status) */
    this.status = null;
    /** whether a status (or the reason there is none) has arrived: until then the label stays "Orgs: …" */
    this._settled = false;
    /** @type {string | undefined} */
    this._problem = undefined;
    /** @type {ReturnType<typeof watchSidecar> | null} */
    this._watch = null;
    /** status renders so far (a test counts them) */
    this.renderCount = 0;
    this._statusRender = coalesce(() => this._renderStatus());

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
    this._onViewport = () => {
      if (this.expanded) this._place();
    };
    this.addEventListener('keydown', this._onKeydown);
    // Tabbing out of the open list closes it (focus moving inside it, or into its own shadow roots, does not).
    root.addEventListener('focusout', (e) => {
      const to = /** @type {FocusEvent} */ (e).relatedTarget;
      if (!this.expanded) return;
      if (to instanceof Node) {
        if (!root.contains(to) && !this.contains(to) && to !== this) this.toggle(false);
        return;
      }
      // No new target (focus left for the page's end, or the window): decide once the focus has settled.
      setTimeout(() => {
        if (this.expanded && !root.activeElement) this.toggle(false);
      }, 0);
    });
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
    window.addEventListener('resize', this._onViewport);
    window.addEventListener('scroll', this._onViewport, true);
    this._connect();
  }

  disconnectedCallback() {
    document.removeEventListener('pointerdown', this._onOutside, true);
    window.removeEventListener('resize', this._onViewport);
    window.removeEventListener('scroll', this._onViewport, true);
    this._disconnect();
  }

  _disconnect() {
    this._statusRender.cancel();
    this._watch?.off();
    this._watch = null;
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
      this._setStatus(null, 'The SweatShop bridge is not available in this window.');
      return;
    }
    this._unsubscribe.push(api.orgs.onChanged((/** @type {any} */ change) => {
      this._version += 1;
      if (change?.status) this._setStatus(change.status);
      else this.refresh();
      if (!this.expanded) return;
      if (change?.org && change.reason === 'removed') this._list.removeOrg(change.org.id);
      else if (change?.org) this._list.upsert(change.org);
      else this._loadList();
    }));
    if (api.governance?.onChanged) {
      // Signing in or out changes the effective capacity (maxOrgs); the notification carries the new status.
      this._unsubscribe.push(api.governance.onChanged((/** @type {any} */ change) => {
        this._version += 1;
        if (change?.status) this._setStatus(change.status);
        else this.refresh();
      }));
    }
    this._watch = watchSidecar(api, (state, previous) => {
      this._banner.show(state);
      if (state === 'running' && previous !== 'running') {
        this.refresh();
        if (this.expanded) this._loadList();
      }
      this._renderStatus();
    });
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
      if (version === this._version) this._setStatus(status);
    } catch (err) {
      if (version === this._version) this._setStatus(null, isOutage(err) ? undefined : errorText(err));
    }
  }

  /**
   * Opens or closes the list.
   * @param {boolean} [open]
   */
  toggle(open = !this.expanded) {
    this._popover.hidden = !open;
    this._button.setAttribute('aria-expanded', String(open));
    if (open) {
      this._place();
      this._loadList();
    }
    this.dispatchEvent(new CustomEvent('toggle', { detail: { open } }));
  }

  /**
   * Places the open list inside the viewport: under the button (or above it when there is more room there),
   * shifted left as far as needed; along the bottom of a narrow window, as a sheet. Position and size go through
   * the CSSOM, which a strict CSP allows (it refuses `style=` attributes, not `element.style`).
   */
  _place() {
    const p = this._popover;
    const vw = document.documentElement.clientWidth || window.innerWidth;
    const vh = window.innerHeight;
    const b = this._button.getBoundingClientRect();
    const s = p.style;
    if (vw < SHEET_BELOW_PX) {
      p.dataset.sheet = '';
      Object.assign(s, {
        left: `${MARGIN}px`, right: `${MARGIN}px`, width: 'auto', top: 'auto', bottom: '0px',
        maxHeight: `${Math.round(vh * 0.7)}px`,
      });
      return;
    }
    delete p.dataset.sheet;
    const width = Math.min(640, vw - 2 * MARGIN);
    const left = Math.max(MARGIN, Math.min(b.left, vw - width - MARGIN));
    const below = vh - b.bottom - 6 - MARGIN;
    const above = b.top - 6 - MARGIN;
    const downwards = below >= 200 || below >= above;
    Object.assign(s, {
      left: `${left}px`, right: 'auto', width: `${width}px`,
      top: downwards ? `${b.bottom + 6}px` : 'auto',
      bottom: downwards ? 'auto' : `${vh - b.top + 6}px`,
      maxHeight: `${Math.max(120, downwards ? below : above)}px`,
    });
  }

  async _loadList() {
    const api = this.api;
    if (!api?.orgs) return;
    const version = this._version;
    try {
      const orgs = await api.orgs.list();
      if (version !== this._version) return; // a newer change triggered its own update
      setText(this._error, '');
      this._list.orgs = orgs;
    } catch (err) {
      setText(this._error, isOutage(err) ? '' : errorText(err));
    }
  }

  /**
   * @param {any} status the `org:status` result (null when there is none)
   * @param {string} [problem] why there is none
   */
  _setStatus(status, problem) {
    this.status = status;
    this._problem = problem;
    this._settled = true;
    this._statusRender.request();
  }

  _renderStatus() {
    this._statusRender.cancel();
    this.renderCount += 1;
    const away = this._watch && this._watch.state() !== 'running' ? this._watch.state() : null;
    const status = away ? null : this.status;
    const level = status?.indicator?.level ?? 'unknown';
    const available = Number(status?.available ?? 0);
    // The sidecar's state can arrive before the first status: that is still loading, not "unavailable".
    const label = away === 'restarting' || away === 'retrying' ? 'Orgs: reconnecting…'
      : status ? `Orgs: ${available}/${status.maxOrgs} available`
        : !away && !this._settled ? 'Orgs: …' : 'Orgs: unavailable';
    const words = status && (level === 'yellow' || level === 'red') ? levelWords(level) : '';
    const soon = Number(status?.expiringSoon ?? 0);
    this._dot.dataset.level = level;
    this.dataset.level = level;
    setText(this._label, label);
    this._words.dataset.level = level;
    setText(this._words, words);
    setText(this._soon, soon > 0 ? `${soon} expiring soon` : '');
    const problem = away === 'failed' ? 'SweatShop’s org controller stopped; open the list to retry.'
      : away === 'closed' ? 'SweatShop’s org controller has been shut down.'
        : away ? 'SweatShop is reconnecting to its org controller.' : this._problem ?? '';
    const spoken = status
      ? [label, levelWords(level), soon > 0 ? `${soon} expiring soon, no longer claimable` : ''].filter(Boolean).join(', ')
      : `${label}. ${problem}`.trim();
    this._button.setAttribute('aria-label', `${spoken}. Show the scratch orgs`);
    this._button.title = status
      ? `${available} available, ${status.leased} leased, ${status.expired} expired`
        + `${soon > 0 ? `, ${soon} expiring soon (too close to expiry to be claimed)` : ''} (of at most ${status.maxOrgs})`
      : problem;
  }
}

define('org-pool-indicator', OrgPoolIndicator);
