/**
 * All SweatShop components: `<org-pool-indicator>`, `<sweatshop-home>`, `<sweatshop-org-list>`,
 * `<sweatshop-confirm>`. Load with `<script type="module" src=".../components/index.js"></script>`, or
 * `import '@sweatshop/electron-sidecar-client/components'` through a bundler. In Node (no DOM) the module loads
 * too: the elements are not defined there, and the pure helpers below work.
 * @module components
 */
export { OrgPoolIndicator } from './org-pool-indicator.js';
export { SweatshopHome, entitlementPairs } from './sweatshop-home.js';
export { SweatshopOrgList } from './org-list.js';
export { SweatshopConfirm } from './confirm-dialog.js';
export { errorCode, errorText } from './errors.js';
export { entitlementText, levelWords, nextTickMs, planName, timeToExpiry } from './format.js';
export { isOutage, outageText } from './outage.js';
export { DARK_LEVEL_COLORS, LEVEL_COLORS } from './theme.js';
