/**
 * The components' shared stylesheet. Every color, font and radius comes from a `--sweatshop-*` custom property
 * with a default, so the app's theme flows in through the shadow boundary (custom properties inherit):
 *
 * `--sweatshop-font`, `--sweatshop-fg`, `--sweatshop-bg`, `--sweatshop-surface`, `--sweatshop-muted`,
 * `--sweatshop-border`, `--sweatshop-accent`, `--sweatshop-accent-fg`, `--sweatshop-danger`,
 * `--sweatshop-danger-fg`, `--sweatshop-focus`, `--sweatshop-radius`, `--sweatshop-level-green`,
 * `--sweatshop-level-yellow`, `--sweatshop-level-red`, `--sweatshop-level-unknown`.
 * @module components/theme
 */
import { sheet } from './dom.js';

/** Defaults for the level dot, exported for tests. */
export const LEVEL_COLORS = Object.freeze({
  green: '#2da44e',
  yellow: '#d4a72c',
  red: '#cf222e',
  unknown: '#8c959f',
});

export const baseSheet = sheet(`
:host {
  --_font: var(--sweatshop-font, system-ui, -apple-system, "Segoe UI", sans-serif);
  --_fg: var(--sweatshop-fg, #1f2328);
  --_bg: var(--sweatshop-bg, #ffffff);
  --_surface: var(--sweatshop-surface, #f6f8fa);
  --_muted: var(--sweatshop-muted, #59636e);
  --_border: var(--sweatshop-border, #d1d9e0);
  --_accent: var(--sweatshop-accent, #0969da);
  --_accent-fg: var(--sweatshop-accent-fg, #ffffff);
  --_danger: var(--sweatshop-danger, #cf222e);
  --_danger-fg: var(--sweatshop-danger-fg, #ffffff);
  --_focus: var(--sweatshop-focus, #0969da);
  --_radius: var(--sweatshop-radius, 6px);
  --_green: var(--sweatshop-level-green, ${LEVEL_COLORS.green});
  --_yellow: var(--sweatshop-level-yellow, ${LEVEL_COLORS.yellow});
  --_red: var(--sweatshop-level-red, ${LEVEL_COLORS.red});
  --_unknown: var(--sweatshop-level-unknown, ${LEVEL_COLORS.unknown});
  font-family: var(--_font);
  color: var(--_fg);
  font-size: 14px;
  line-height: 1.4;
}
[hidden] { display: none !important; }
button, select {
  font: inherit;
  color: inherit;
}
button {
  cursor: pointer;
  border: 1px solid var(--_border);
  background: var(--_surface);
  border-radius: var(--_radius);
  padding: 4px 10px;
}
button:hover { border-color: var(--_muted); }
button.primary { background: var(--_accent); color: var(--_accent-fg); border-color: var(--_accent); }
button.danger { background: var(--_danger); color: var(--_danger-fg); border-color: var(--_danger); }
button:disabled { opacity: 0.6; cursor: default; }
:focus-visible { outline: 2px solid var(--_focus); outline-offset: 2px; }
select {
  border: 1px solid var(--_border);
  background: var(--_bg);
  border-radius: var(--_radius);
  padding: 3px 6px;
}
table { border-collapse: collapse; width: 100%; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--_border); white-space: nowrap; }
thead th { color: var(--_muted); font-weight: 600; font-size: 12px; }
tbody th { color: var(--_fg); font-weight: 600; }
.muted { color: var(--_muted); }
.visually-hidden {
  position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px;
  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0;
}
.dot {
  display: inline-block; width: 10px; height: 10px; border-radius: 50%;
  background: var(--_unknown); flex: none;
}
.dot[data-level="green"] { background: var(--_green); }
.dot[data-level="yellow"] { background: var(--_yellow); }
.dot[data-level="red"] { background: var(--_red); }
.status { display: inline-flex; align-items: center; gap: 6px; }
.status[data-status="available"]::before, .status[data-status="leased"]::before, .status[data-status="expired"]::before {
  content: ""; width: 8px; height: 8px; border-radius: 50%;
}
.status[data-status="available"]::before { background: var(--_green); }
.status[data-status="leased"]::before { background: var(--_accent); }
.status[data-status="expired"]::before { background: var(--_unknown); }
.message { min-height: 1.4em; margin: 6px 0; }
.message[data-kind="error"] { color: var(--_danger); }
`);
