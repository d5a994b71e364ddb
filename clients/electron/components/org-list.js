/**
 * `<sweatshop-org-list>`: a table of scratch orgs (alias, status, assigned agent, time to expiry), with
 * optional Release / Remove buttons. Set `.orgs` (ScratchOrg[] as the sidecar sends them) and, for buttons,
 * the `actions` attribute (`actions="release remove"`). A button dispatches a bubbling, composed `org-action`
 * event with `detail: {action, org}`; the element itself changes nothing.
 * @module components/org-list
 */
import { h, replaceChildren, sheet } from './dom.js';
import { baseSheet } from './theme.js';
import { localTime, timeToExpiry } from './format.js';

const listSheet = sheet(`
:host { display: block; }
.empty { padding: 8px 0; }
td.actions { width: 1%; }
td.actions .buttons { display: flex; gap: 6px; justify-content: flex-end; }
td.actions button { padding: 2px 8px; font-size: 12px; }
`);

export class SweatshopOrgList extends HTMLElement {
  static get observedAttributes() {
    return ['actions', 'caption'];
  }

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.adoptedStyleSheets = [baseSheet, listSheet];
    this._body = h('div', { part: 'body' });
    root.append(this._body);
    /** @type {any[]} */
    this._orgs = [];
    this._loaded = false;
  }

  /** @param {any[] | null} orgs */
  set orgs(orgs) {
    this._orgs = Array.isArray(orgs) ? orgs : [];
    this._loaded = true;
    this.render();
  }

  /** @returns {any[]} */
  get orgs() {
    return this._orgs;
  }

  attributeChangedCallback() {
    this.render();
  }

  connectedCallback() {
    this.render();
  }

  /** @returns {Set<string>} */
  get _actions() {
    return new Set((this.getAttribute('actions') ?? '').split(/\s+/).filter(Boolean));
  }

  render() {
    if (!this._loaded) {
      replaceChildren(this._body, h('p', { class: 'empty muted' }, 'Loading orgs…'));
      return;
    }
    if (this._orgs.length === 0) {
      replaceChildren(this._body, h('p', { class: 'empty muted' }, 'No scratch orgs in the pool yet.'));
      return;
    }
    const actions = this._actions;
    const now = Date.now();
    const rows = this._orgs.map((org) => {
      const buttons = [];
      if (actions.has('release') && org.status === 'leased') {
        buttons.push(this._button('release', 'Release', org));
      }
      if (actions.has('remove')) buttons.push(this._button('remove', 'Remove', org));
      return h('tr', { dataset: { orgId: String(org.id), status: String(org.status) } },
        h('th', { scope: 'row', class: 'alias' }, org.alias ?? org.username ?? org.id),
        h('td', null, h('span', { class: 'status', dataset: { status: String(org.status) } }, org.status)),
        h('td', { class: 'agent' }, org.assignedAgentId ?? h('span', { class: 'muted' }, '—')),
        h('td', { class: 'expiry' },
          h('time', { datetime: org.expiresAt ?? undefined, title: localTime(org.expiresAt) || undefined },
            timeToExpiry(org.expiresAt, now))),
        actions.size ? h('td', { class: 'actions' }, h('div', { class: 'buttons' }, buttons)) : null,
      );
    });
    const caption = this.getAttribute('caption');
    replaceChildren(this._body, h('table', null,
      caption ? h('caption', null, caption) : null,
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Alias'),
        h('th', { scope: 'col' }, 'Status'),
        h('th', { scope: 'col' }, 'Agent'),
        h('th', { scope: 'col' }, 'Expires in'),
        actions.size ? h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')) : null)),
      h('tbody', null, rows)));
  }

  /**
   * @param {string} action
   * @param {string} label
   * @param {any} org
   */
  _button(action, label, org) {
    return h('button', {
      type: 'button',
      class: action,
      'aria-label': `${label} ${org.alias ?? org.id}`,
      onclick: () => this.dispatchEvent(new CustomEvent('org-action', {
        bubbles: true, composed: true, detail: { action, org },
      })),
    }, label);
  }
}

if (!customElements.get('sweatshop-org-list')) customElements.define('sweatshop-org-list', SweatshopOrgList);
