/**
 * What the components say and do while the sidecar is away: one watcher of `window.sweatshop.sidecar` (its pushed
 * `sidecar:state` and, at start, its state now) and one banner, shared by `<org-pool-indicator>` and
 * `<sweatshop-home>`. The words are for the person using the app: what happened, what still holds, what to do.
 * @module components/outage
 */
import { h, setText } from './dom.js';
import { errorCode } from './errors.js';

/** Error codes that mean "the sidecar is not there" rather than "this action failed". */
export const OUTAGE_CODES = Object.freeze(new Set(['SIDECAR_EXITED', 'SIDECAR_UNAVAILABLE', 'SIDECAR_CLOSED']));

/**
 * @param {unknown} err
 * @returns {boolean} whether the error only says the sidecar is away (the banner says it better)
 */
export function isOutage(err) {
  return OUTAGE_CODES.has(errorCode(err));
}

/**
 * @typedef {'running' | 'restarting' | 'failed' | 'retrying' | 'closed'} Availability
 */

/**
 * @param {Availability} state
 * @returns {string} the banner's sentence ('' when all is well)
 */
export function outageText(state) {
  switch (state) {
    case 'restarting':
      return 'SweatShop lost contact with its org controller and is starting it again. '
        + 'Your orgs and leases are kept; actions are paused until it is back.';
    case 'retrying':
      return 'Starting the org controller again…';
    case 'failed':
      return 'SweatShop’s org controller stopped and could not be started again. Your orgs and leases are kept. '
        + 'Retry; if it keeps stopping, restart the app.';
    case 'closed':
      return 'SweatShop’s org controller has been shut down. Restart the app to use the pool.';
    default:
      return '';
  }
}

/**
 * Follows the sidecar's availability for one component.
 *
 * @param {any} api `window.sweatshop`
 * @param {(state: Availability, previous: Availability) => void} onChange
 * @returns {{state: () => Availability, retry: () => Promise<void>, canOpenOrgs: () => boolean, off: () => void}}
 */
export function watchSidecar(api, onChange) {
  /** @type {Availability} */
  let state = 'running';
  let canOpen = false;
  let alive = true;
  /** @param {Availability} next */
  const set = (next) => {
    if (!alive || next === state) return;
    const previous = state;
    state = next;
    onChange(next, previous);
  };
  /** @param {string | undefined} s the client's state or a pushed `sidecar:state` */
  const fromClient = (s) => {
    if (s === 'running' || s === 'idle') set('running');
    else if (s === 'exited' || s === 'restarting') set('restarting');
    else if (s === 'failed') set('failed');
    else if (s === 'closing' || s === 'closed') set('closed');
  };
  const off = api?.sidecar?.onState
    ? api.sidecar.onState((/** @type {any} */ pushed) => fromClient(pushed?.state))
    : () => {};
  if (api?.sidecar?.state) {
    api.sidecar.state().then((/** @type {any} */ now) => {
      canOpen = Boolean(now?.canOpenOrgs);
      if (state === 'running') fromClient(now?.state);
      onChange(state, state); // canOpenOrgs is known now
    }, () => {});
  }
  return {
    state: () => state,
    canOpenOrgs: () => canOpen,
    async retry() {
      set('retrying');
      try {
        await api.sidecar.restart();
        set('running');
      } catch {
        set('failed');
      }
    },
    off() {
      alive = false;
      off();
    },
  };
}

/**
 * The banner element: a live region with the sentence and, after a give-up, a Retry button.
 * @param {() => void} onRetry
 * @returns {{el: HTMLElement, show: (state: Availability) => void}}
 */
export function outageBanner(onRetry) {
  const text = h('p', { class: 'banner-text' });
  const retry = /** @type {HTMLButtonElement} */ (h('button', { type: 'button', class: 'primary retry', hidden: true }, 'Retry'));
  retry.addEventListener('click', onRetry);
  const el = h('div', { class: 'banner outage', role: 'alert', hidden: true, part: 'banner' }, text, retry);
  return {
    el,
    show(state) {
      const sentence = outageText(state);
      setText(text, sentence);
      el.hidden = !sentence;
      el.dataset.state = state;
      const hadFocus = el.getRootNode() instanceof ShadowRoot && /** @type {ShadowRoot} */ (el.getRootNode()).activeElement === retry;
      retry.hidden = state !== 'failed';
      if (hadFocus && retry.hidden) text.setAttribute('tabindex', '-1'), text.focus();
    },
  };
}
