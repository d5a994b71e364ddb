/**
 * All SweatShop components: `<org-pool-indicator>`, `<sweatshop-home>`, `<sweatshop-org-list>`,
 * `<sweatshop-confirm>`. Load with `<script type="module" src=".../components/index.js"></script>`.
 * @module components
 */
export { OrgPoolIndicator } from './org-pool-indicator.js';
export { SweatshopHome } from './sweatshop-home.js';
export { SweatshopOrgList } from './org-list.js';
export { SweatshopConfirm } from './confirm-dialog.js';
export { errorCode, errorText } from './errors.js';
export { timeToExpiry } from './format.js';
export { LEVEL_COLORS } from './theme.js';
