/**
 * `<sweatshop-org-list>`: a table of scratch orgs (alias, status, assigned agent, time to expiry), with optional
 * Release / Remove / Open buttons.
 *
 * - Data: set `.orgs` (ScratchOrg[] as the sidecar sends them), or patch it with `.upsert(org)` and
 *   `.removeOrg(id)` (what an `org:changed` notification says). Updates are coalesced (a burst renders a few
 *   times, not once per change) and keyed by org id: rows, buttons, focus, scroll position and the filter survive.
 * - Buttons: the `actions` attribute (`actions="release remove open"`). A button dispatches a bubbling, composed
 *   `org-action` event with `detail: {action, org}`; the element itself changes nothing. `.disabled = true`
 *   disables every button (the sidecar is away).
 * - Long values (the sidecar allows 80-character aliases) truncate with an ellipsis and carry the full text as a
 *   tooltip; the columns keep their place at any width. The header stays in view; Alias, Status and Expires in
 *   sort; past `filter-threshold` orgs (default 12) a filter box appears.
 * - "Expires in" ticks by itself: every minute, and every second in an org's last minute.
 * - `.note(orgId, text, kind)` shows a confirmation or an error next to that org's row, and `.say(text, kind)`
 *   at the top of the list; both are read by screen readers (`aria-live`).
 * @module components/org-list
 */
import { BaseElement, coalesce, deepActiveElement, define, h, setText, sheet } from './dom.js';
import { baseSheet } from './theme.js';
import { instant, localTime, nextTickMs, timeToExpiry } from './format.js';

const listSheet = sheet(`
:host { display: block; container-type: inline-size; }
.toolbar { display: flex; align-items: center; gap: 8px; margin: 0 0 6px; }
.toolbar input { flex: 1 1 auto; min-width: 0; max-width: 22em; }
.toolbar .count { color: var(--_muted); font-size: 12px; white-space: nowrap; }
.live:empty { display: none; }
.live { margin: 0 0 6px; }
.live[data-kind="error"] { color: var(--_danger); }
table { table-layout: fixed; }
thead th { position: sticky; top: 0; z-index: 1; background: var(--_bg); }
th, td { overflow: hidden; text-overflow: ellipsis; }
col.status { width: 7.5em; }
col.agent { width: 30%; }
col.expiry { width: 6.5em; }
col.actions { width: 14.5em; }
.cell { display: block; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.status { max-width: 100%; overflow: hidden; }
thead button.sort {
  border: 0; background: none; padding: 0; margin: 0; font: inherit; color: inherit; cursor: pointer;
  display: inline-flex; align-items: center; gap: 4px; max-width: 100%;
}
thead button.sort .arrow { font-size: 10px; }
td.actions { padding-left: 4px; padding-right: 4px; }
td.actions .buttons { display: flex; gap: 6px; justify-content: flex-end; }
td.actions button { padding: 2px 8px; font-size: 12px; }
tr.note td { white-space: normal; border-bottom-style: dashed; font-size: 13px; padding-top: 2px; }
tr.note td[data-kind="error"] { color: var(--_danger); }
tbody th[tabindex="-1"]:focus { outline: none; }
.empty { padding: 8px 0; margin: 0; }
@container (max-width: 620px) {
  col.status { width: 6.2em; }
  col.agent { width: 24%; }
  col.expiry { width: 5.2em; }
  col.actions { width: 5.8em; }
  td.actions .buttons { flex-direction: column; align-items: stretch; gap: 3px; }
  th, td { padding-left: 5px; padding-right: 5px; }
}
`);

/** @typedef {'alias' | 'status' | 'expiry'} SortKey */
const SORTS = /** @type {Record<SortKey, (org: any) => string | number>} */ ({
  alias: (o) => String(o.alias ?? o.username ?? o.id).toLowerCase(),
  status: (o) => ({ available: 0, leased: 1, expired: 2 })[/** @type {'available'} */ (o.status)] ?? 3,
  expiry: (o) => instant(o.expiresAt) ?? Number.MAX_SAFE_INTEGER,
});
const ACTIONS = /** @type {const} */ ([['release', 'Release'], ['remove', 'Remove'], ['open', 'Open']]);
const NOTE_MS = 15_000;

/**
 * @typedef {object} Row the DOM of one org, kept across updates
 * @property {HTMLTableRowElement} tr
 * @property {HTMLElement} alias
 * @property {HTMLElement} aliasText
 * @property {HTMLElement} status
 * @property {HTMLElement} agent
 * @property {HTMLElement} time
 * @property {Record<string, HTMLButtonElement>} buttons
 * @property {HTMLTableRowElement | null} note
 * @property {ReturnType<typeof setTimeout> | null} noteTimer
 */

export class SweatshopOrgList extends BaseElement {
  static get observedAttributes() {
    return ['actions', 'caption', 'filter-threshold'];
  }

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.adoptedStyleSheets = [baseSheet, listSheet];
    this._filter = /** @type {HTMLInputElement} */ (h('input', {
      type: 'search', class: 'filter', placeholder: 'Filter by alias, agent or status', 'aria-label': 'Filter orgs',
    }));
    this._count = h('span', { class: 'count', 'aria-live': 'polite' });
    this._toolbar = h('div', { class: 'toolbar', hidden: true }, this._filter, this._count);
    this._live = h('p', { class: 'live', role: 'status', 'aria-live': 'polite', tabindex: '-1' });
    this._caption = h('caption');
    this._headRow = h('tr');
    this._colgroup = h('colgroup');
    this._tbody = h('tbody');
    this._table = h('table', null, this._caption, this._colgroup, h('thead', null, this._headRow), this._tbody);
    this._empty = h('p', { class: 'empty muted' }, 'Loading orgs…');
    root.append(this._toolbar, this._live, this._table, this._empty);

    /** @type {Map<string, any>} org id -> org, in the sidecar's order */
    this._orgs = new Map();
    /** @type {Map<string, Row>} */
    this._rows = new Map();
    this._loaded = false;
    this._disabled = false;
    /** @type {{key: SortKey | null, dir: 1 | -1}} */
    this._sort = { key: null, dir: 1 };
    /** full renders so far (a test counts them) */
    this.renderCount = 0;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this._tick = null;
    this._scheduled = coalesce(() => this.render());
    this._filter.addEventListener('input', () => this.render());
    /** @type {string} */
    this._headerKey = '';
  }

  /** @param {any[] | null} orgs the whole list (replaces what is shown) */
  set orgs(orgs) {
    this._orgs = new Map((Array.isArray(orgs) ? orgs : []).map((o) => [String(o.id), o]));
    this._loaded = true;
    this._scheduled.request();
  }

  /** @returns {any[]} */
  get orgs() {
    return [...this._orgs.values()];
  }

  /**
   * Adds or replaces one org (an `org:changed` notification's `org`).
   * @param {any} org
   */
  upsert(org) {
    if (!org || org.id === undefined || org.id === null) return;
    this._orgs.set(String(org.id), org);
    this._scheduled.request();
  }

  /** @param {string} id */
  removeOrg(id) {
    if (this._orgs.delete(String(id))) this._scheduled.request();
  }

  /** @param {boolean} value disables every action button (while the sidecar is away) */
  set disabled(value) {
    this._disabled = Boolean(value);
    for (const row of this._rows.values()) for (const b of Object.values(row.buttons)) b.disabled = this._disabled;
  }

  get disabled() {
    return this._disabled;
  }

  /** @param {string} name */
  attributeChangedCallback(name) {
    this._headerKey = '';
    if (name === 'actions') {
      // the rows are built for a set of buttons: build them again
      for (const row of this._rows.values()) {
        this._dropNote(row);
        row.tr.remove();
      }
      this._rows.clear();
    }
    if (this.isConnected) this.render();
  }

  connectedCallback() {
    this.render();
  }

  disconnectedCallback() {
    this._scheduled.cancel();
    if (this._tick) clearTimeout(this._tick);
    this._tick = null;
  }

  /** @returns {string[]} the actions asked for, in display order */
  get _actions() {
    const asked = new Set((this.getAttribute('actions') ?? '').split(/\s+/).filter(Boolean));
    return ACTIONS.map(([a]) => a).filter((a) => asked.has(a));
  }

  get _threshold() {
    const n = Number(this.getAttribute('filter-threshold') ?? 12);
    return Number.isFinite(n) ? n : 12;
  }

  /**
   * A confirmation or error next to an org's row (and, for screen readers, in the live region at the top). When
   * the row is gone (a removed org) it shows at the top of the list instead.
   * @param {string} orgId
   * @param {string} text
   * @param {'info' | 'error'} [kind]
   */
  note(orgId, text, kind = 'info') {
    this.render(); // the row reflects the latest data before the note is placed
    const row = this._rows.get(String(orgId));
    this.say(text, kind, !row);
    if (!row) return;
    if (!row.note) {
      row.note = /** @type {HTMLTableRowElement} */ (h('tr', { class: 'note', dataset: { noteFor: String(orgId) } },
        h('td', { colspan: String(this._columnCount) })));
      row.tr.after(row.note);
    }
    const cell = /** @type {HTMLElement} */ (row.note.firstElementChild);
    cell.dataset.kind = kind;
    cell.setAttribute('colspan', String(this._columnCount));
    setText(cell, text);
    if (row.noteTimer) clearTimeout(row.noteTimer);
    row.noteTimer = setTimeout(() => this._dropNote(row), NOTE_MS);
    row.note.scrollIntoView?.({ block: 'nearest' });
  }

  /**
   * A sentence at the top of the list, announced politely.
   * @param {string} text
   * @param {'info' | 'error'} [kind]
   * @param {boolean} [reveal] scroll it into view
   */
  say(text, kind = 'info', reveal = false) {
    this._live.dataset.kind = kind;
    setText(this._live, text);
    if (reveal && text) this._live.scrollIntoView?.({ block: 'nearest' });
  }

  /** @param {Row} row */
  _dropNote(row) {
    if (row.noteTimer) clearTimeout(row.noteTimer);
    row.noteTimer = null;
    row.note?.remove();
    row.note = null;
  }

  get _columnCount() {
    return 4 + (this._actions.length ? 1 : 0);
  }

  /** Renders now (normally called through the coalescing scheduler). */
  render() {
    this._scheduled.cancel();
    this.renderCount += 1;
    const focus = this._focusKey();
    const actions = this._actions;
    this._renderHeader(actions);
    const caption = this.getAttribute('caption');
    this._caption.hidden = !caption;
    setText(this._caption, caption ?? '');

    const all = this.orgs;
    this._toolbar.hidden = all.length <= this._threshold && !this._filter.value;
    const shown = this._sorted(this._filtered(all));
    setText(this._count, this._toolbar.hidden ? '' : `${shown.length} of ${all.length}`);
    this._table.hidden = !this._loaded || shown.length === 0;
    this._empty.hidden = !this._table.hidden;
    setText(this._empty, !this._loaded ? 'Loading orgs…'
      : all.length === 0 ? 'No scratch orgs in the pool yet.' : 'No org matches the filter.');

    const keep = new Set(shown.map((o) => String(o.id)));
    for (const [id, row] of this._rows) {
      if (keep.has(id)) continue;
      this._dropNote(row);
      row.tr.remove();
      this._rows.delete(id);
    }
    const now = Date.now();
    /** @type {ChildNode | null} */
    let cursor = this._tbody.firstChild;
    for (const org of shown) {
      const id = String(org.id);
      let row = this._rows.get(id);
      if (!row) {
        row = this._row(org, actions);
        this._rows.set(id, row);
      }
      this._fill(row, org, actions, now);
      cursor = this._place(row.tr, cursor);
      if (row.note) cursor = this._place(row.note, cursor);
    }
    this._restoreFocus(focus, shown);
    this._scheduleTick(shown);
    this.dispatchEvent(new CustomEvent('sweatshop-rendered', { detail: { count: this.renderCount } }));
  }

  /**
   * Puts `node` where `cursor` is (moving it only when it is elsewhere) and returns the next position.
   * @param {Element} node
   * @param {ChildNode | null} cursor
   * @returns {ChildNode | null}
   */
  _place(node, cursor) {
    if (node === cursor) return node.nextSibling;
    const body = /** @type {any} */ (this._tbody);
    // moveBefore keeps focus and state of the moved row (Chromium 133+); insertBefore is the fallback.
    if (node.parentNode === body && typeof body.moveBefore === 'function') body.moveBefore(node, cursor);
    else body.insertBefore(node, cursor);
    return node.nextSibling;
  }

  /** @param {any[]} orgs */
  _filtered(orgs) {
    const q = this._filter.value.trim().toLowerCase();
    if (!q) return orgs;
    return orgs.filter((o) => [o.alias, o.username, o.assignedAgentId, o.machineName, o.status]
      .some((v) => typeof v === 'string' && v.toLowerCase().includes(q)));
  }

  /** @param {any[]} orgs */
  _sorted(orgs) {
    const { key, dir } = this._sort;
    if (!key) return orgs;
    const by = SORTS[key];
    return orgs
      .map((o, i) => ({ o, i, k: by(o) }))
      .sort((a, b) => (a.k < b.k ? -dir : a.k > b.k ? dir : a.i - b.i))
      .map((x) => x.o);
  }

  /** @param {string[]} actions */
  _renderHeader(actions) {
    const key = `${actions.join(',')}|${this._sort.key}|${this._sort.dir}`;
    if (key === this._headerKey) return;
    this._headerKey = key;
    const cols = [['alias', 'Alias'], ['status', 'Status'], ['agent', 'Agent'], ['expiry', 'Expires in']];
    this._colgroup.replaceChildren(...cols.map(([c]) => h('col', { class: c })), ...(actions.length ? [h('col', { class: 'actions' })] : []));
    const focused = deepActiveElement();
    const focusedSort = focused instanceof HTMLElement && this._headRow.contains(focused) ? focused.dataset.sort : null;
    this._headRow.replaceChildren(
      ...cols.map(([c, label]) => {
        const sortable = c in SORTS;
        const active = this._sort.key === c;
        const dir = active ? (this._sort.dir === 1 ? 'ascending' : 'descending') : 'none';
        if (!sortable) return h('th', { scope: 'col', class: `col-${c}` }, label);
        return h('th', { scope: 'col', class: `col-${c}`, 'aria-sort': dir },
          h('button', {
            type: 'button', class: 'sort', dataset: { sort: c },
            'aria-label': `${label}, sort ${active && this._sort.dir === 1 ? 'descending' : 'ascending'}`,
            onclick: () => this.sortBy(/** @type {SortKey} */ (c)),
          }, label, h('span', { class: 'arrow', 'aria-hidden': 'true' }, active ? (this._sort.dir === 1 ? '▲' : '▼') : '')));
      }),
      ...(actions.length ? [h('th', { scope: 'col', class: 'col-actions' }, h('span', { class: 'visually-hidden' }, 'Actions'))] : []),
    );
    if (focusedSort) /** @type {HTMLElement | null} */ (this._headRow.querySelector(`[data-sort="${focusedSort}"]`))?.focus();
  }

  /**
   * Sorts by a column; the same column again reverses the order.
   * @param {SortKey} key
   * @param {1 | -1} [dir]
   */
  sortBy(key, dir) {
    this._sort = { key, dir: dir ?? (this._sort.key === key ? /** @type {1 | -1} */ (-this._sort.dir) : 1) };
    this.render();
  }

  /**
   * @param {any} org
   * @param {string[]} actions
   * @returns {Row}
   */
  _row(org, actions) {
    const aliasText = h('span', { class: 'cell' });
    const alias = h('th', { scope: 'row', class: 'alias', tabindex: '-1' }, aliasText);
    const status = h('span', { class: 'status' });
    const agent = h('span', { class: 'cell' });
    const time = h('time');
    /** @type {Record<string, HTMLButtonElement>} */
    const buttons = {};
    for (const [action, label] of ACTIONS) {
      if (!actions.includes(action)) continue;
      buttons[action] = /** @type {HTMLButtonElement} */ (h('button', {
        type: 'button', class: action, dataset: { action },
        onclick: () => {
          const current = this._orgs.get(String(org.id)) ?? org;
          this.dispatchEvent(new CustomEvent('org-action', { bubbles: true, composed: true, detail: { action, org: current } }));
        },
      }, label));
    }
    const tr = /** @type {HTMLTableRowElement} */ (h('tr', { dataset: { orgId: String(org.id) } },
      alias,
      h('td', { class: 'status-cell' }, status),
      h('td', { class: 'agent' }, agent),
      h('td', { class: 'expiry' }, time),
      actions.length ? h('td', { class: 'actions' }, h('div', { class: 'buttons' }, Object.values(buttons))) : null));
    return { tr, alias, aliasText, status, agent, time, buttons, note: null, noteTimer: null };
  }

  /**
   * Writes an org's values into its row (only what changed).
   * @param {Row} row
   * @param {any} org
   * @param {string[]} _actions
   * @param {number} now
   */
  _fill(row, org, _actions, now) {
    const name = String(org.alias ?? org.username ?? org.id);
    row.tr.dataset.status = String(org.status);
    setText(row.aliasText, name);
    setAttr(row.aliasText, 'title', name);
    setText(row.status, String(org.status));
    row.status.dataset.status = String(org.status);
    const agentId = org.assignedAgentId ?? null;
    setText(row.agent, agentId ?? '—');
    row.agent.classList.toggle('muted', !agentId);
    // In a team pool the lease is held by an agent on some desktop: the tooltip says which (null when unleased).
    setAttr(row.agent, 'title', agentId && org.machineName ? `${agentId} on ${org.machineName}` : agentId);
    setAttr(row.time, 'datetime', org.expiresAt ?? null);
    setAttr(row.time, 'title', localTime(org.expiresAt) || null);
    setText(row.time, timeToExpiry(org.expiresAt, now));
    for (const [action, label] of ACTIONS) {
      const button = row.buttons[action];
      if (!button) continue;
      const applies = action === 'remove' || (org.status === 'leased' && Boolean(agentId));
      button.hidden = !applies;
      button.disabled = this._disabled;
      setAttr(button, 'aria-label', `${label} ${name}`);
      setAttr(button, 'title', `${label} ${name}`);
    }
  }

  /** @returns {{id: string, action: string, index: number} | null} what has the focus, as data */
  _focusKey() {
    const active = this.shadowRoot?.activeElement;
    if (!(active instanceof HTMLElement)) return null;
    const tr = active.closest('tr[data-org-id]');
    if (!tr) return null;
    const id = /** @type {HTMLElement} */ (tr).dataset.orgId ?? '';
    const index = [...this._rows.keys()].indexOf(id);
    return { id, action: active.dataset.action ?? 'alias', index };
  }

  /**
   * After an update, gives the focus back if the element that had it vanished or was hidden: the same button of
   * the same org, else another action of that row, else its alias; for a row that left, the row now in its place.
   * @param {{id: string, action: string, index: number} | null} key
   * @param {any[]} shown
   */
  _restoreFocus(key, shown) {
    if (!key) return;
    const active = this.shadowRoot?.activeElement;
    if (active instanceof HTMLElement && active.isConnected && !active.closest('[hidden]') && !(/** @type {any} */ (active).disabled)) return;
    let row = this._rows.get(key.id);
    if (!row && shown.length) row = this._rows.get(String(shown[Math.min(key.index, shown.length - 1)].id));
    if (!row) {
      this._live.focus();
      return;
    }
    const usable = (/** @type {HTMLButtonElement | undefined} */ b) => b && !b.hidden && !b.disabled;
    const target = usable(row.buttons[key.action]) ? row.buttons[key.action]
      : Object.values(row.buttons).find(usable) ?? row.alias;
    target.focus();
  }

  /** @param {any[]} shown */
  _scheduleTick(shown) {
    if (this._tick) clearTimeout(this._tick);
    this._tick = null;
    const wait = nextTickMs(shown.map((o) => o.expiresAt));
    if (wait === null || !this.isConnected) return;
    this._tick = setTimeout(() => {
      this._tick = null;
      const now = Date.now();
      for (const [id, row] of this._rows) setText(row.time, timeToExpiry(this._orgs.get(id)?.expiresAt, now));
      this._scheduleTick(shown);
    }, wait);
  }
}

/**
 * @param {Element} el
 * @param {string} name
 * @param {string | null | undefined} value null or undefined removes it
 */
function setAttr(el, name, value) {
  if (value === null || value === undefined) {
    if (el.hasAttribute(name)) el.removeAttribute(name);
  } else if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}

define('sweatshop-org-list', SweatshopOrgList);
