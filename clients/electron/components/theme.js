/**
 * The components' shared stylesheet. Light and dark follow `prefers-color-scheme` (and `color-scheme` is set, so
 * native controls follow too); every color, font and radius comes from a `--sweatshop-*` custom property with a
 * default, so the app's theme flows in through the shadow boundary (custom properties inherit) and overrides
 * either scheme:
 *
 * `--sweatshop-font`, `--sweatshop-fg`, `--sweatshop-bg`, `--sweatshop-surface`, `--sweatshop-muted`,
 * `--sweatshop-border`, `--sweatshop-accent`, `--sweatshop-accent-fg`, `--sweatshop-danger`,
 * `--sweatshop-danger-fg`, `--sweatshop-warning-bg`, `--sweatshop-warning-fg`, `--sweatshop-focus`,
 * `--sweatshop-radius`, `--sweatshop-level-green`, `--sweatshop-level-yellow`, `--sweatshop-level-red`,
 * `--sweatshop-level-unknown`.
 *
 * The default dot colors have at least 3:1 contrast (WCAG 1.4.11, graphics) against the surface they sit on in
 * both schemes; a browser test measures it from the rendered colors.
 * @module components/theme
 */
import { sheet } from './dom.js';

/** Default colors of the light scheme, exported for tests. */
export const LEVEL_COLORS = Object.freeze({
  green: '#1a7f37',
  yellow: '#a37100',
  red: '#cf222e',
  unknown: '#6e7781',
});

/** Default colors of the dark scheme. */
export const DARK_LEVEL_COLORS = Object.freeze({
  green: '#3fb950',
  yellow: '#d29922',
  red: '#f85149',
  unknown: '#8b949e',
});

/** @param {Record<string, string>} c @param {Readonly<Record<string, string>>} level */
const palette = (c, level) => `
  --_fg: var(--sweatshop-fg, ${c.fg});
  --_bg: var(--sweatshop-bg, ${c.bg});
  --_surface: var(--sweatshop-surface, ${c.surface});
  --_muted: var(--sweatshop-muted, ${c.muted});
  --_border: var(--sweatshop-border, ${c.border});
  --_accent: var(--sweatshop-accent, ${c.accent});
  --_accent-fg: var(--sweatshop-accent-fg, ${c.accentFg});
  --_danger: var(--sweatshop-danger, ${c.danger});
  --_danger-fg: var(--sweatshop-danger-fg, ${c.dangerFg});
  --_warning-bg: var(--sweatshop-warning-bg, ${c.warningBg});
  --_warning-fg: var(--sweatshop-warning-fg, ${c.warningFg});
  --_focus: var(--sweatshop-focus, ${c.focus});
  --_shadow: ${c.shadow};
  --_green: var(--sweatshop-level-green, ${level.green});
  --_yellow: var(--sweatshop-level-yellow, ${level.yellow});
  --_red: var(--sweatshop-level-red, ${level.red});
  --_unknown: var(--sweatshop-level-unknown, ${level.unknown});`;

const LIGHT = {
  fg: '#1f2328', bg: '#ffffff', surface: '#f6f8fa', muted: '#59636e', border: '#d1d9e0', accent: '#0969da',
  accentFg: '#ffffff', danger: '#cf222e', dangerFg: '#ffffff', warningBg: '#fff8c5', warningFg: '#3b2300',
  focus: '#0969da', shadow: 'rgba(31, 35, 40, 0.18)',
};
const DARK = {
  fg: '#e6edf3', bg: '#0d1117', surface: '#161b22', muted: '#9198a1', border: '#3d444d', accent: '#4493f8',
  accentFg: '#0d1117', danger: '#f85149', dangerFg: '#0d1117', warningBg: '#3d2e00', warningFg: '#f2cc60',
  focus: '#4493f8', shadow: 'rgba(1, 4, 9, 0.6)',
};

export const baseSheet = sheet(`
:host {
  color-scheme: light dark;
  --_font: var(--sweatshop-font, system-ui, -apple-system, "Segoe UI", sans-serif);
  --_radius: var(--sweatshop-radius, 6px);${palette(LIGHT, LEVEL_COLORS)}
  font-family: var(--_font);
  color: var(--_fg);
  font-size: 14px;
  line-height: 1.4;
}
@media (prefers-color-scheme: dark) {
  :host {${palette(DARK, DARK_LEVEL_COLORS)}
  }
}
[hidden] { display: none !important; }
button, select, input {
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
button:hover:not(:disabled) { border-color: var(--_muted); }
button.primary { background: var(--_accent); color: var(--_accent-fg); border-color: var(--_accent); }
button.danger { background: var(--_danger); color: var(--_danger-fg); border-color: var(--_danger); }
button:disabled { opacity: 0.55; cursor: not-allowed; }
:focus-visible { outline: 2px solid var(--_focus); outline-offset: 2px; }
select, input {
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
.status::before { content: ""; width: 8px; height: 8px; border-radius: 50%; flex: none; background: var(--_unknown); }
.status[data-status="available"]::before { background: var(--_green); }
.status[data-status="leased"]::before { background: var(--_accent); }
.message { margin: 6px 0; }
.message:empty { display: none; }
.message[data-kind="error"] { color: var(--_danger); }
.banner {
  display: flex; align-items: center; gap: 12px; flex-wrap: wrap;
  background: var(--_warning-bg); color: var(--_warning-fg);
  border: 1px solid var(--_border); border-radius: var(--_radius);
  padding: 8px 12px; margin: 8px 0;
}
.banner p { margin: 0; flex: 1 1 16em; }
`);
