/**
 * `<sweatshop-confirm>`: a modal confirmation built on the native `<dialog>` (focus stays inside, Escape
 * cancels, the page behind is inert). Cancel has the initial focus, so Enter never confirms a destructive action
 * by accident.
 *
 * ```js
 * const ok = await document.querySelector('sweatshop-confirm').ask({
 *   title: 'Remove qa1?', message: 'The org leaves the pool.', confirmLabel: 'Remove', danger: true });
 * ```
 * @module components/confirm-dialog
 */
import { BaseElement, deepActiveElement, define, h, replaceChildren, sheet } from './dom.js';
import { baseSheet } from './theme.js';

const dialogSheet = sheet(`
dialog {
  border: 1px solid var(--_border);
  border-radius: calc(var(--_radius) * 1.5);
  background: var(--_bg);
  color: var(--_fg);
  padding: 16px 18px;
  min-width: 280px;
  max-width: min(460px, 90vw);
  box-shadow: 0 8px 24px var(--_shadow);
}
dialog::backdrop { background: rgba(0, 0, 0, 0.35); }
h2 { font-size: 16px; margin: 0 0 8px; }
p { margin: 0 0 16px; }
.buttons { display: flex; justify-content: flex-end; gap: 8px; }
`);

/**
 * @typedef {object} ConfirmOptions
 * @property {string} title
 * @property {string} [message]
 * @property {string} [confirmLabel='Confirm']
 * @property {string} [cancelLabel='Cancel']
 * @property {boolean} [danger=false] style the confirm button as destructive
 */

export class SweatshopConfirm extends BaseElement {
  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.adoptedStyleSheets = [baseSheet, dialogSheet];
    this._title = h('h2', { id: 'title' });
    this._message = h('p', { id: 'message' });
    this._cancel = h('button', { type: 'button', class: 'cancel' }, 'Cancel');
    this._confirm = h('button', { type: 'button', class: 'confirm primary' }, 'Confirm');
    this._dialog = /** @type {HTMLDialogElement} */ (h('dialog', {
      'aria-labelledby': 'title', 'aria-describedby': 'message',
    }, this._title, this._message, h('div', { class: 'buttons' }, this._cancel, this._confirm)));
    root.append(this._dialog);
    /** @type {((ok: boolean) => void) | null} */
    this._resolve = null;
    this._cancel.addEventListener('click', () => this._finish(false));
    this._confirm.addEventListener('click', () => this._finish(true));
    // Escape fires 'cancel' and then closes the dialog.
    this._dialog.addEventListener('close', () => this._finish(false));
  }

  /** @returns {boolean} */
  get open() {
    return this._dialog.open;
  }

  /**
   * Shows the dialog; resolves true when the person confirms, false on Cancel or Escape.
   * @param {ConfirmOptions} options
   * @returns {Promise<boolean>}
   */
  ask(options) {
    if (this._resolve) this._finish(false);
    replaceChildren(this._title, options.title);
    replaceChildren(this._message, options.message ?? '');
    this._message.hidden = !options.message;
    replaceChildren(this._confirm, options.confirmLabel ?? 'Confirm');
    replaceChildren(this._cancel, options.cancelLabel ?? 'Cancel');
    this._confirm.className = `confirm ${options.danger ? 'danger' : 'primary'}`;
    return new Promise((resolve) => {
      this._resolve = resolve;
      this._returnFocus = /** @type {HTMLElement | null} */ (deepActiveElement());
      this._dialog.showModal();
      this._cancel.focus();
    });
  }

  /** @param {boolean} ok */
  _finish(ok) {
    const resolve = this._resolve;
    if (!resolve) return;
    this._resolve = null;
    if (this._dialog.open) this._dialog.close();
    this._returnFocus?.focus?.();
    resolve(ok);
  }
}

define('sweatshop-confirm', SweatshopConfirm);
