// Course page: mark an item done / in progress without reloading the page.
// The buttons are plain form posts; this only saves the reload on a slow network.
'use strict';

import { courseApi, csrfTokenIn } from './api.js';

const gettext = /** @type {(s: string) => string} */ (
  /** @type {any} */ (window).gettext || ((s) => s)
);

/** @type {Record<string, string>} */
const LABELS = {
  done: gettext('Done'),
  in_progress: gettext('In progress'),
  not_started: gettext('Not started'),
};

/**
 * Show only the buttons that make sense for `status` (same rule as the template).
 * @param {HTMLFormElement} form
 * @param {string} status
 */
function showButtons(form, status) {
  form.querySelectorAll('button[name="status"]').forEach((button) => {
    if (!(button instanceof HTMLButtonElement)) return;
    const target = button.value;
    const visible = target === 'done' ? status !== 'done'
      : target === 'in_progress' ? status === 'not_started'
        : status !== 'not_started';
    button.hidden = !visible;
  });
}

/** @param {HTMLElement} root */
function start(root) {
  const api = courseApi(Number(root.dataset.course), csrfTokenIn(root));
  const total = root.querySelector('.progress-total');
  root.querySelectorAll('form.progress-form').forEach((form) => {
    if (!(form instanceof HTMLFormElement)) return;
    // Render every button once, so all states can be reached without a reload.
    for (const value of ['done', 'in_progress', 'not_started']) {
      if (!form.querySelector(`button[value="${value}"]`)) {
        const button = document.createElement('button');
        button.type = 'submit';
        button.name = 'status';
        button.value = value;
        button.className = value === 'not_started' ? 'link' : 'secondary';
        button.textContent = value === 'done' ? gettext('Mark done')
          : value === 'in_progress' ? gettext('Mark in progress') : gettext('Reset');
        form.append(button);
      }
    }
    const label = form.querySelector('.status');
    showButtons(form, label instanceof HTMLElement ? label.dataset.status || 'not_started' : 'not_started');
  });
  root.addEventListener('submit', async (event) => {
    const form = event.target;
    const submitter = /** @type {SubmitEvent} */ (event).submitter;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains('progress-form')) return;
    if (!(submitter instanceof HTMLButtonElement)) return;
    event.preventDefault();
    const row = /** @type {HTMLElement} */ (form.closest('[id^="item-"]'));
    const itemId = Number(row.id.replace('item-', ''));
    const result = await api.setProgress(itemId, submitter.value);
    const label = form.querySelector('.status');
    if (!result.ok) {
      if (label) label.textContent = result.error.message || gettext('Not saved. Try again.');
      return;
    }
    const status = String(result.body.status);
    if (label instanceof HTMLElement) {
      label.dataset.status = status;
      label.textContent = LABELS[status] || status;
    }
    row.classList.toggle('done', status === 'done');
    showButtons(form, status);
    if (total instanceof HTMLElement) {
      total.dataset.done = String(result.body.done_count);
      total.textContent = gettext('You have done %(done)s of %(total)s items.')
        .replace('%(done)s', String(result.body.done_count))
        .replace('%(total)s', String(result.body.available_count));
    }
  });
}

const root = document.querySelector('article.course[data-course]');
if (root instanceof HTMLElement) start(root);
