/**
 * `<sweatshop-home>`: the signed-in person's home, with progressive disclosure.
 *
 * - `solo` view (one person, one organization, one workspace): their pool, its entitlements and its scratch
 *   orgs, directly; no organization or workspace selector.
 * - `full` view: organization and workspace selectors above the same pool section.
 * - An operator (role `operator` in the session) also gets an "Administration" button that opens the panel of
 *   organizations, members, workspaces, pools and roles, with "Re-apply defaults" per pool.
 * - Release, Remove and Re-apply defaults ask for confirmation first (`<sweatshop-confirm>`).
 * - Signed out, it shows the pool under the settings alone and a "Sign in" button that dispatches a
 *   `sweatshop-sign-in` event (bubbling, composed) for the app's main process to start the OIDC flow.
 *
 * Data comes from `element.api` if set, else `window.sweatshop`.
 * @module components/sweatshop-home
 */
import { BaseElement, coalesce, define, h, replaceChildren, sheet } from './dom.js';
import { baseSheet } from './theme.js';
import { errorCode, errorText } from './errors.js';
import { entitlementText, planName } from './format.js';
import { isOutage, outageBanner, watchSidecar } from './outage.js';
import './confirm-dialog.js';
import './org-list.js';
import './org-pool-indicator.js';

const homeSheet = sheet(`
:host { display: block; background: var(--_bg); color: var(--_fg); }
header { display: flex; align-items: center; gap: 12px; flex-wrap: wrap; padding-bottom: 8px; border-bottom: 1px solid var(--_border); }
header h2 { font-size: 18px; margin: 0; flex: 1 1 auto; }
.who { color: var(--_muted); }
.selectors { display: flex; gap: 16px; flex-wrap: wrap; padding: 10px 0; }
.selectors label { display: inline-flex; align-items: center; gap: 6px; }
section { padding: 10px 0; }
section h3 { font-size: 15px; margin: 0 0 8px; display: flex; align-items: center; gap: 12px; }
dl.entitlements { display: grid; grid-template-columns: minmax(0, max-content) 1fr; gap: 2px 16px; margin: 0 0 10px; }
.banner.outage { position: sticky; top: 0; z-index: 5; }
section h3 { flex-wrap: wrap; }
.pool-name { max-width: 100%; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
dl.entitlements dt { color: var(--_muted); }
dl.entitlements dd { margin: 0; font-variant-numeric: tabular-nums; }
.admin { border-top: 1px solid var(--_border); }
.admin > h4 { margin: 12px 0 4px; font-size: 14px; }
.admin > ul { margin: 0; }
.admin article { border: 1px solid var(--_border); border-radius: var(--_radius); padding: 8px 12px; margin: 8px 0; background: var(--_surface); }
.admin h4 { margin: 0 0 6px; font-size: 14px; }
.admin h5 { margin: 8px 0 4px; font-size: 12px; color: var(--_muted); text-transform: uppercase; letter-spacing: 0.04em; }
.admin ul { margin: 0; padding-left: 18px; }
.admin li { margin: 2px 0; }
.pool-row { display: flex; align-items: center; gap: 10px; }
.badge { display: inline-block; border: 1px solid var(--_border); border-radius: 999px; padding: 0 8px; font-size: 12px; color: var(--_muted); }
`);

/**
 * Entitlements as `[key, value]` pairs, from either an object map or a list of `{key, value}`.
 * @param {any} entitlements
 * @returns {Array<[string, unknown]>}
 */
export function entitlementPairs(entitlements) {
  if (!entitlements) return [];
  if (Array.isArray(entitlements)) {
    return entitlements.map((e) => [String(e.key ?? e.name), e.value]);
  }
  if (typeof entitlements === 'object') return Object.entries(entitlements);
  return [];
}

/** @param {any} x */
const nameOf = (x) => x?.name ?? x?.displayName ?? x?.slug ?? x?.id ?? '';

export class SweatshopHome extends BaseElement {
  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.adoptedStyleSheets = [baseSheet, homeSheet];
    this._who = h('span', { class: 'who' });
    this._signIn = h('button', { type: 'button', class: 'primary sign-in', hidden: true }, 'Sign in');
    this._adminButton = h('button', {
      type: 'button', class: 'admin-toggle', hidden: true, 'aria-expanded': 'false', 'aria-controls': 'admin',
    }, 'Administration');
    this._selectors = h('div', { class: 'selectors', hidden: true });
    this._indicator = /** @type {any} */ (h('org-pool-indicator'));
    this._entitlements = h('dl', { class: 'entitlements', 'aria-label': 'Entitlements' });
    this._poolName = h('span', { class: 'badge pool-name', hidden: true });
    this._orgList = /** @type {any} */ (h('sweatshop-org-list', { class: 'pool-orgs', actions: 'release remove', caption: 'Scratch orgs' }));
    this._banner = outageBanner(() => this._watch?.retry());
    this._banner.el.classList.add('home-banner');
    this._pool = h('section', { class: 'pool', 'aria-labelledby': 'pool-title' },
      h('h3', { id: 'pool-title' }, 'Scratch-org pool', this._poolName, this._indicator),
      this._entitlements,
      this._orgList);
    this._admin = h('section', { id: 'admin', class: 'admin', 'aria-labelledby': 'admin-title', hidden: true });
    // Messages about the whole view, at the top where the eye is (row-level ones go next to their row).
    this._message = h('p', { class: 'message', role: 'status', 'aria-live': 'polite' });
    this._confirm = /** @type {any} */ (h('sweatshop-confirm'));
    root.append(
      this._banner.el,
      h('header', null, h('h2', null, 'SweatShop'), this._who, this._signIn, this._adminButton),
      this._message, this._selectors, this._pool, this._admin, this._confirm,
    );
    /** @type {ReturnType<typeof watchSidecar> | null} */
    this._watch = null;
    /** `org:list` requests made (a test counts them) */
    this.listRequests = 0;
    this._listInFlight = false;
    this._listAgain = false;
    /** changes seen while an `org:list` was in flight: applied on top of its answer */
    /** @type {any[]} */
    this._changesDuringList = [];
    this._listReload = coalesce(() => this._loadOrgs());

    /** @type {any} */
    this._api = null;
    /** @type {Array<() => void>} */
    this._unsubscribe = [];
    /** @type {any} */
    this.session = null;
    /** @type {any} */
    this.home = null;
    /** @type {any} */
    this.overview = null;
    /** @type {{organizationId: string | null, workspaceId: string | null}} */
    this._selection = { organizationId: null, workspaceId: null };

    this._signIn.addEventListener('click', () => {
      this.dispatchEvent(new CustomEvent('sweatshop-sign-in', { bubbles: true, composed: true }));
    });
    this._adminButton.addEventListener('click', () => this.toggleAdmin());
    this._orgList.addEventListener('org-action', (/** @type {CustomEvent} */ e) => {
      this._onOrgAction(e.detail.action, e.detail.org);
    });
  }

  /** The preload API to use; defaults to `window.sweatshop`. Setting it reloads. */
  set api(api) {
    this._api = api;
    this._indicator.api = api;
    if (this.isConnected) this._connect();
  }

  get api() {
    return this._api ?? /** @type {any} */ (globalThis).sweatshop ?? null;
  }

  /** @returns {'solo' | 'full' | 'signed-out' | null} */
  get view() {
    if (!this.session) return null;
    if (!this.session.authenticated) return 'signed-out';
    return this.home?.view ?? null;
  }

  connectedCallback() {
    this._connect();
  }

  disconnectedCallback() {
    this._disconnect();
  }

  _disconnect() {
    for (const off of this._unsubscribe.splice(0)) off();
    this._watch?.off();
    this._watch = null;
    this._listReload.cancel();
  }

  _connect() {
    this._disconnect();
    const api = this.api;
    if (!api?.orgs) {
      this._say('The SweatShop bridge is not available in this window.', 'error');
      return;
    }
    this._unsubscribe.push(api.orgs.onChanged((/** @type {any} */ change) => this._onOrgChanged(change)));
    if (api.governance?.onChanged) {
      this._unsubscribe.push(api.governance.onChanged(() => this.reload()));
    }
    this._watch = watchSidecar(api, (state, previous) => {
      this._banner.show(state);
      this._orgList.disabled = state !== 'running';
      for (const b of this.shadowRoot?.querySelectorAll('button.reapply, button.sign-in') ?? []) {
        /** @type {HTMLButtonElement} */ (b).disabled = state !== 'running';
      }
      const actions = this._watch?.canOpenOrgs() ? 'release remove open' : 'release remove';
      if (this._orgList.getAttribute('actions') !== actions) this._orgList.setAttribute('actions', actions);
      if (state === 'running' && previous !== 'running') this.reload();
    });
    this.reload();
  }

  /**
   * An `org:changed`: its `org` patches the list in place (no `org:list` round trip); a change without one asks
   * for the list again, at most once per burst.
   * @param {any} change
   */
  _onOrgChanged(change) {
    if (this._listInFlight) this._changesDuringList.push(change);
    if (change?.org && change.org.id !== undefined) this._applyChange(change);
    else this._listReload.request();
  }

  /** @param {any} change */
  _applyChange(change) {
    if (change.reason === 'removed') this._orgList.removeOrg(change.org.id);
    else this._orgList.upsert(change.org);
  }

  /**
   * Loads the session, the home, the orgs (and the operator panel if it is open) again.
   * @returns {Promise<void>}
   */
  async reload() {
    const api = this.api;
    if (!api?.orgs) return;
    try {
      this.session = await this._loadSession(api);
      this.home = this.session?.authenticated ? await api.governance.home() : null;
      this._render();
      if (!this._admin.hidden && this._isOperator) await this._loadOverview();
      else if (!this._isOperator) this._closeAdmin();
      if (this._message.dataset.kind === 'error') this._say('');
    } catch (err) {
      if (!isOutage(err)) this._say(errorText(err), 'error');
    }
    await this._loadOrgs();
    this.dispatchEvent(new CustomEvent('sweatshop-home-ready', { detail: { view: this.view } }));
  }

  /**
   * The session; a sidecar without the governance methods counts as signed out (the pool still works).
   * @param {any} api
   */
  async _loadSession(api) {
    if (!api.auth) return { authenticated: false, governance: false };
    try {
      return await api.auth.session();
    } catch (err) {
      if (errorCode(err) === 'METHOD_NOT_FOUND') return { authenticated: false, governance: false };
      throw err;
    }
  }

  get _isOperator() {
    const roles = this.session?.roles;
    return Boolean(this.session?.authenticated && Array.isArray(roles) && roles.includes('operator'));
  }

  _render() {
    const s = this.session;
    const signedIn = Boolean(s?.authenticated);
    this.dataset.view = this.view ?? '';
    const person = this.home?.person;
    const name = person?.name ?? s?.name ?? s?.username ?? s?.email ?? 'Signed in';
    const email = person?.email ?? s?.email;
    replaceChildren(this._who, signedIn
      ? [name, email && email !== name ? ` (${email})` : '']
      : 'Not signed in: the pool follows the settings alone.');
    this._signIn.hidden = signedIn || s?.governance === false;
    this._adminButton.hidden = !this._isOperator;

    const home = this.home;
    const full = signedIn && home?.view === 'full';
    this._selectors.hidden = !full;
    if (full) this._renderSelectors(home);
    else replaceChildren(this._selectors);
    this._renderPool(signedIn ? this._selectedPool(home) : null);
  }

  /** @param {any} home */
  _organizations(home) {
    return Array.isArray(home?.organizations) ? home.organizations : [];
  }

  /** @param {any} organization */
  _workspaces(organization) {
    return Array.isArray(organization?.workspaces) ? organization.workspaces : [];
  }

  /**
   * The pool to show: in the full view, the selected workspace's pool; otherwise the session's pool.
   * @param {any} home
   */
  _selectedPool(home) {
    if (!home) return null;
    if (home.view !== 'full') return home.pool ?? null;
    const organization = this._organizations(home).find((o) => o.id === this._selection.organizationId);
    const workspace = this._workspaces(organization).find((w) => w.id === this._selection.workspaceId);
    const pools = Array.isArray(organization?.pools) ? organization.pools : [];
    const ids = Array.isArray(workspace?.poolIds) ? workspace.poolIds : [];
    return pools.find((p) => ids.includes(p.id))
      ?? pools.find((p) => Array.isArray(p.workspaceIds) && workspace && p.workspaceIds.includes(workspace.id))
      ?? (organization ? null : home.pool ?? null);
  }

  /** @param {any} home */
  _renderSelectors(home) {
    const organizations = this._organizations(home);
    if (!organizations.some((o) => o.id === this._selection.organizationId)) {
      this._selection.organizationId = organizations.some((o) => o.id === home.organizationId)
        ? home.organizationId : organizations[0]?.id ?? null;
      this._selection.workspaceId = null;
    }
    const organization = organizations.find((o) => o.id === this._selection.organizationId);
    const workspaces = this._workspaces(organization);
    if (!workspaces.some((w) => w.id === this._selection.workspaceId)) {
      this._selection.workspaceId = workspaces.some((w) => w.id === home.workspaceId)
        ? home.workspaceId : workspaces[0]?.id ?? null;
    }
    const orgSelect = /** @type {HTMLSelectElement} */ (h('select', { id: 'organization-select', name: 'organization' },
      organizations.map((o) => h('option', { value: o.id, selected: o.id === this._selection.organizationId }, nameOf(o)))));
    const wsSelect = /** @type {HTMLSelectElement} */ (h('select', { id: 'workspace-select', name: 'workspace' },
      workspaces.map((w) => h('option', { value: w.id, selected: w.id === this._selection.workspaceId }, nameOf(w)))));
    orgSelect.addEventListener('change', () => {
      this._selection = { organizationId: orgSelect.value, workspaceId: null };
      this._render();
      /** @type {HTMLElement | null} */ (this.shadowRoot?.getElementById('organization-select') ?? null)?.focus();
      this._emitSelection();
    });
    wsSelect.addEventListener('change', () => {
      this._selection.workspaceId = wsSelect.value;
      this._render();
      /** @type {HTMLElement | null} */ (this.shadowRoot?.getElementById('workspace-select') ?? null)?.focus();
      this._emitSelection();
    });
    replaceChildren(this._selectors,
      h('label', { for: 'organization-select' }, 'Organization'), orgSelect,
      h('label', { for: 'workspace-select' }, 'Workspace'), wsSelect);
  }

  _emitSelection() {
    this.dispatchEvent(new CustomEvent('sweatshop-selection', { bubbles: true, composed: true, detail: { ...this._selection } }));
  }

  /** @param {any} pool */
  _renderPool(pool) {
    const pairs = entitlementPairs(pool?.entitlements);
    this._entitlements.hidden = pairs.length === 0;
    replaceChildren(this._entitlements, pairs.map(([key, value]) => {
      const text = entitlementText(key, value);
      return [h('dt', { dataset: { key } }, text.label), h('dd', { dataset: { key } }, text.value)];
    }));
    this._poolName.hidden = !pool;
    const plan = planName(pool?.ladder);
    const poolName = pool ? String(pool.name ?? pool.poolType ?? 'pool') : '';
    replaceChildren(this._poolName, pool ? [poolName, plan ? ` · ${plan}` : ''] : '');
    this._poolName.title = pool ? `Pool ${poolName}${plan ? `, on the ${plan} plan` : ''}` : '';
  }

  /**
   * Reads the whole list: one request at a time; asked again meanwhile, it reads once more after.
   * @returns {Promise<void>}
   */
  async _loadOrgs() {
    const api = this.api;
    if (!api?.orgs) return;
    if (this._listInFlight) {
      this._listAgain = true;
      return;
    }
    this._listInFlight = true;
    this._changesDuringList = [];
    this.listRequests += 1;
    try {
      const orgs = await api.orgs.list();
      this._orgList.orgs = orgs;
      // what changed while the answer travelled is newer than it, or the same: apply it on top, in order
      for (const change of this._changesDuringList) if (change?.org) this._applyChange(change);
    } catch (err) {
      if (!isOutage(err)) this._say(errorText(err), 'error');
    } finally {
      this._listInFlight = false;
      this._changesDuringList = [];
    }
    if (this._listAgain) {
      this._listAgain = false;
      await this._loadOrgs();
    }
  }

  /**
   * Release, Remove (and Remove anyway) after a confirmation, and Open. The outcome shows next to the org's row
   * (or at the top of the list when the row left) and is announced; the focus stays in the row.
   * @param {string} action `release` | `remove` | `open`
   * @param {any} org
   */
  async _onOrgAction(action, org) {
    const api = this.api;
    const name = org.alias ?? org.id;
    const list = this._orgList;
    try {
      if (action === 'open') {
        const agentId = org.assignedAgentId;
        list.note(org.id, `Opening ${name} for ${agentId}…`);
        // The main process asks the sidecar for a fresh login URL and hands it to the app: it never comes here.
        await api.agents.open(agentId);
        list.note(org.id, `Opened ${name}.`);
      } else if (action === 'release') {
        const ok = await this._confirm.ask({
          title: `Release ${name}?`,
          message: `${org.assignedAgentId ?? 'Its agent'} loses access to ${name}, and the org goes back to the pool.`,
          confirmLabel: 'Release',
          danger: true,
        });
        if (!ok) return;
        await api.orgs.release(org.id);
        list.note(org.id, `Released ${name}: it is back in the pool.`);
      } else if (action === 'remove') {
        const ok = await this._confirm.ask({
          title: `Remove ${name} from the pool?`,
          message: 'The scratch org itself is not deleted; the pool just stops handing it out.',
          confirmLabel: 'Remove',
          danger: true,
        });
        if (!ok) return;
        try {
          await api.orgs.remove(org.id);
        } catch (err) {
          if (errorCode(err) !== 'ORG_LEASED') throw err;
          const force = await this._confirm.ask({
            title: `${name} is leased`,
            message: `${org.assignedAgentId ?? 'An agent'} is using ${name}. Remove it anyway? The agent loses access.`,
            confirmLabel: 'Remove anyway',
            danger: true,
          });
          if (!force) return;
          await api.orgs.remove(org.id, { force: true });
        }
        list.removeOrg(org.id);
        list.note(org.id, `Removed ${name} from the pool.`);
      }
    } catch (err) {
      if (isOutage(err)) return; // the banner says it
      list.note(org.id, errorText(err), 'error');
      this._listReload.request(); // what we show may be stale
    }
  }

  /**
   * Opens or closes the operator panel.
   * @param {boolean} [open]
   * @returns {Promise<void>}
   */
  async toggleAdmin(open = this._admin.hidden) {
    if (!open || !this._isOperator) {
      this._closeAdmin();
      return;
    }
    this._admin.hidden = false;
    this._adminButton.setAttribute('aria-expanded', 'true');
    replaceChildren(this._admin, h('h3', { id: 'admin-title' }, 'Administration'), h('p', { class: 'muted' }, 'Loading…'));
    await this._loadOverview();
  }

  _closeAdmin() {
    this._admin.hidden = true;
    this._adminButton.setAttribute('aria-expanded', 'false');
  }

  async _loadOverview() {
    try {
      this.overview = await this.api.governance.overview();
      this._renderAdmin(this.overview);
    } catch (err) {
      replaceChildren(this._admin, h('h3', { id: 'admin-title' }, 'Administration'),
        h('p', { class: 'message', dataset: { kind: 'error' } }, errorText(err)));
    }
    this.dispatchEvent(new CustomEvent('sweatshop-admin-ready'));
  }

  /** @param {any} overview */
  _renderAdmin(overview) {
    const organizations = Array.isArray(overview?.organizations) ? overview.organizations : [];
    /** @type {Map<string, number>} */
    const roleCounts = new Map();
    const articles = organizations.map((o) => {
      const members = Array.isArray(o.members) ? o.members : [];
      for (const m of members) for (const r of rolesOf(m)) roleCounts.set(r, (roleCounts.get(r) ?? 0) + 1);
      const workspaces = Array.isArray(o.workspaces) ? o.workspaces : [];
      const pools = [
        ...(Array.isArray(o.pools) ? o.pools : []),
        ...workspaces.flatMap((w) => (Array.isArray(w.pools) ? w.pools : w.pool ? [w.pool] : [])),
      ].filter((p, i, all) => all.findIndex((q) => q.id === p.id) === i);
      const titleId = `org-${o.id}`;
      return h('article', { 'aria-labelledby': titleId, dataset: { organizationId: String(o.id) } },
        h('h4', { id: titleId }, nameOf(o), ' ', h('span', { class: 'badge' }, o.orgType ?? o.type ?? 'organization')),
        h('h5', null, 'Members'),
        members.length
          ? h('table', null,
            h('thead', null, h('tr', null,
              h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Email'), h('th', { scope: 'col' }, 'Roles'))),
            h('tbody', null, members.map((m) => h('tr', { class: 'member' },
              h('th', { scope: 'row' }, m.name ?? m.displayName ?? m.personId ?? ''),
              h('td', null, m.email ?? ''),
              h('td', { class: 'roles' }, rolesOf(m).join(', '))))))
          : h('p', { class: 'muted' }, 'No members.'),
        h('h5', null, 'Workspaces'),
        workspaces.length
          ? h('ul', null, workspaces.map((w) => h('li', { class: 'workspace' }, nameOf(w))))
          : h('p', { class: 'muted' }, 'No workspaces.'),
        h('h5', null, 'Pools'),
        pools.length
          ? h('ul', null, pools.map((p) => h('li', { class: 'pool-row', dataset: { poolId: String(p.id) } },
            h('span', null, p.name ?? p.poolType ?? 'pool'),
            p.isAutoManaged ? h('span', { class: 'badge' }, 'auto-managed') : null,
            h('span', { class: 'badge ladder' }, planName(p.ladder) || 'no plan'),
            h('button', {
              type: 'button', class: 'reapply',
              'aria-label': `Re-apply defaults to the ${p.name ?? p.poolType ?? 'pool'} pool of ${nameOf(o)}`,
              onclick: () => this._reapply(o, p),
            }, 'Re-apply defaults'))))
          : h('p', { class: 'muted' }, 'No pools.'));
    });
    const catalogErrors = Array.isArray(overview?.catalogErrors) ? overview.catalogErrors : [];
    replaceChildren(this._admin,
      h('h3', { id: 'admin-title' }, 'Administration'),
      catalogErrors.length
        ? h('div', { class: 'message', dataset: { kind: 'error' }, role: 'note' },
          'The plan catalog in settings.json has problems: ',
          catalogErrors.map((e, i) => [i ? '; ' : '', `${e.key}: ${e.reason}`]))
        : null,
      h('h4', null, 'Roles'),
      roleCounts.size
        ? h('ul', { class: 'roles-summary' }, [...roleCounts].map(([r, n]) => h('li', null, `${r}: ${n}`)))
        : h('p', { class: 'muted' }, 'No roles assigned.'),
      h('h4', null, `Organizations (${organizations.length})`),
      articles);
  }

  /**
   * @param {any} organization
   * @param {any} pool
   */
  async _reapply(organization, pool) {
    const ok = await this._confirm.ask({
      title: 'Re-apply the default plan?',
      message: `The ${pool.name ?? pool.poolType ?? ''} pool of ${nameOf(organization)} goes back to its organization type's `
        + 'default plan; entitlements above it are dropped.',
      confirmLabel: 'Re-apply defaults',
      danger: true,
    });
    if (!ok) return;
    try {
      const outcome = await this.api.governance.reapplyDefaults(pool.id);
      this._say(outcome?.changed === false
        ? `Re-applied the defaults to ${nameOf(organization)}: it was already on its default plan.`
        : `Re-applied the defaults to ${nameOf(organization)}${outcome?.transition ? ` (${outcome.transition})` : ''}.`);
      await this._loadOverview();
    } catch (err) {
      this._say(errorText(err), 'error');
    }
  }

  /**
   * @param {string} text
   * @param {'info' | 'error'} [kind]
   */
  _say(text, kind = 'info') {
    this._message.dataset.kind = kind;
    replaceChildren(this._message, text);
  }
}

/** @param {any} member */
function rolesOf(member) {
  if (Array.isArray(member?.roles)) return member.roles.map(String);
  if (member?.role) return [String(member.role)];
  return [];
}

define('sweatshop-home', SweatshopHome);
