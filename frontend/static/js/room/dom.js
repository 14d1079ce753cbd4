'use strict';
/** Small DOM helpers shared by the room's UI modules (text only: never innerHTML). */

/** Django's JavaScript catalogue (/jsi18n/) sets `window.gettext`; absent, texts stay English. */
const catalogue = /** @type {{gettext?: (text: string) => string}} */ (/** @type {unknown} */ (window));

/** @param {string} text */
export const t = (text) => (typeof catalogue.gettext === 'function' ? catalogue.gettext(text) : text);

/**
 * @param {string} tag
 * @param {{[key: string]: any}} [attrs]
 * @param {(Node|string|null|undefined|false)[]} [children]
 * @returns {HTMLElement}
 */
export function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'text') node.textContent = String(value);
    else if (key === 'onclick') node.addEventListener('click', value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

/** @param {string} id @returns {HTMLElement} */
export const byId = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @param {string} iso */
export function timeOf(iso) {
  if (!iso) return '';
  return new Date(iso).toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'});
}

/** The flag-free country label: ISO code in a badge. @param {string} code */
export function countryBadge(code) {
  return code ? el('span', {class: 'badge', title: code, text: code}) : null;
}
