// Course builder: move and remove modules and items without a page reload.
// Every control is a plain form that works without this script; here we only
// intercept the submit, call /api/courses/ and update the page in place.
'use strict';

import { courseApi, csrfTokenIn } from './api.js';

const gettext = /** @type {(s: string) => string} */ (
  /** @type {any} */ (window).gettext || ((s) => s)
);

/** @param {HTMLElement} root */
function status(root) {
  let region = root.querySelector('.builder-status');
  if (!region) {
    region = document.createElement('p');
    region.className = 'builder-status';
    region.setAttribute('role', 'status');
    root.prepend(region);
  }
  return /** @type {HTMLElement} */ (region);
}

/**
 * Enable or disable the up/down buttons after a move so the ends stay disabled.
 * @param {Element} list
 */
function refreshMoveButtons(list) {
  const rows = Array.from(list.children).filter((el) => el instanceof HTMLElement && (el.dataset.module || el.dataset.item));
  rows.forEach((row, index) => {
    const form = row.querySelector(':scope > .row .move-form, :scope > .controls .move-form');
    if (!form) return;
    const up = form.querySelector('button[value="up"]');
    const down = form.querySelector('button[value="down"]');
    if (up instanceof HTMLButtonElement) up.disabled = index === 0;
    if (down instanceof HTMLButtonElement) down.disabled = index === rows.length - 1;
  });
}

/**
 * @param {HTMLElement} root
 */
function start(root) {
  const courseId = Number(root.dataset.course);
  const api = courseApi(courseId, csrfTokenIn(root));
  const say = (/** @type {string} */ text) => { status(root).textContent = text; };
  const failed = (/** @type {{code: string, message: string}} */ error) =>
    say(error.message || gettext('That did not work. Reload the page and try again.'));

  root.addEventListener('submit', async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    const submitter = /** @type {SubmitEvent} */ (event).submitter;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    if (form.classList.contains('move-form') && submitter instanceof HTMLButtonElement) {
      event.preventDefault();
      const row = /** @type {HTMLElement} */ (form.closest(form.dataset.kind === 'module' ? '[data-module]' : '[data-item]'));
      const list = /** @type {HTMLElement} */ (row.parentElement);
      const sibling = submitter.value === 'up' ? row.previousElementSibling : row.nextElementSibling;
      if (!sibling) return;
      if (submitter.value === 'up') list.insertBefore(row, sibling); else list.insertBefore(sibling, row);
      const ids = Array.from(list.children)
        .map((el) => Number(/** @type {HTMLElement} */ (el).dataset[form.dataset.kind === 'module' ? 'module' : 'item']))
        .filter((id) => id > 0);
      const result = form.dataset.kind === 'module'
        ? await api.orderModules(ids)
        : await api.orderItems(Number(/** @type {HTMLElement} */ (list.closest('[data-module]')).dataset.module), ids);
      if (!result.ok) {
        failed(result.error);
        return;
      }
      refreshMoveButtons(list);
      submitter.focus();
      say(gettext('Order saved.'));
      return;
    }
    if (form.classList.contains('remove-form') && !form.classList.contains('delete-course')) {
      event.preventDefault();
      const itemRow = form.closest('[data-item]');
      const moduleRow = form.closest('[data-module]');
      const row = /** @type {HTMLElement} */ (itemRow || moduleRow);
      const result = itemRow
        ? await api.removeItem(Number(/** @type {HTMLElement} */ (itemRow).dataset.item))
        : await api.removeModule(Number(/** @type {HTMLElement} */ (moduleRow).dataset.module));
      if (!result.ok) {
        failed(result.error);
        return;
      }
      const list = /** @type {HTMLElement} */ (row.parentElement);
      row.remove();
      refreshMoveButtons(list);
      say(gettext('Removed.'));
    }
  });
}

const root = document.querySelector('.builder[data-course]');
if (root instanceof HTMLElement) start(root);
