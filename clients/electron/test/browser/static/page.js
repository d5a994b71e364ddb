// The page itself: load the components (they find window.sweatshop on their own).
import '/components/index.js';

const only = new URLSearchParams(location.search).get('only');
if (only) document.body.dataset.only = only;
window.__componentsLoaded = true;
