// Typings of the components (components/*.js are ES modules; see package.json "exports").
export class OrgPoolIndicator extends HTMLElement {
  api: import('../api').SweatshopApi | null;
  readonly expanded: boolean;
  /** the latest `org:status` (may carry `expiringSoon`) */
  status: (import('../types').PoolStatus & { expiringSoon?: number }) | null;
  readonly renderCount: number;
  refresh(): Promise<void>;
  toggle(open?: boolean): void;
}
export class SweatshopHome extends HTMLElement {
  api: import('../api').SweatshopApi | null;
  readonly view: 'solo' | 'full' | 'signed-out' | null;
  readonly listRequests: number;
  reload(): Promise<void>;
  toggleAdmin(open?: boolean): Promise<void>;
}
export class SweatshopOrgList extends HTMLElement {
  orgs: import('../types').ScratchOrg[];
  disabled: boolean;
  readonly renderCount: number;
  upsert(org: import('../types').ScratchOrg): void;
  removeOrg(id: string): void;
  note(orgId: string, text: string, kind?: 'info' | 'error'): void;
  say(text: string, kind?: 'info' | 'error', reveal?: boolean): void;
  sortBy(key: 'alias' | 'status' | 'expiry', dir?: 1 | -1): void;
  render(): void;
}
export interface ConfirmOptions {
  title: string;
  message?: string;
  confirmLabel?: string;
  cancelLabel?: string;
  danger?: boolean;
}
export class SweatshopConfirm extends HTMLElement {
  readonly open: boolean;
  ask(options: ConfirmOptions): Promise<boolean>;
}
export interface OrgActionDetail {
  action: 'release' | 'remove' | 'open';
  org: import('../types').ScratchOrg;
}
export function errorCode(err: unknown): string;
export function errorText(err: unknown): string;
export function entitlementPairs(entitlements: unknown): Array<[string, unknown]>;
export function entitlementText(key: string, value: unknown): { label: string; value: string };
export function levelWords(level: string | null | undefined): string;
export function nextTickMs(expiries: Array<string | null | undefined>, now?: number): number | null;
export function planName(ladder: unknown): string;
export function timeToExpiry(expiresAt: string | null | undefined, now?: number): string;
export function isOutage(err: unknown): boolean;
export function outageText(state: 'running' | 'restarting' | 'failed' | 'retrying' | 'closed'): string;
export const LEVEL_COLORS: Readonly<Record<'green' | 'yellow' | 'red' | 'unknown', string>>;
export const DARK_LEVEL_COLORS: Readonly<Record<'green' | 'yellow' | 'red' | 'unknown', string>>;

declare global {
  interface HTMLElementTagNameMap {
    'org-pool-indicator': OrgPoolIndicator;
    'sweatshop-home': SweatshopHome;
    'sweatshop-org-list': SweatshopOrgList;
    'sweatshop-confirm': SweatshopConfirm;
  }
  interface HTMLElementEventMap {
    'org-action': CustomEvent<OrgActionDetail>;
    'sweatshop-sign-in': CustomEvent<undefined>;
    'sweatshop-selection': CustomEvent<{ organizationId: string | null; workspaceId: string | null }>;
  }
}
