// @ts-check
/**
 * Contribute and edit forms of the library: send the form with XMLHttpRequest so the
 * person sees upload progress (a 200 MB video on 3G takes a while), and show the
 * server's refusal messages in place without losing what they typed.
 *
 * On the contribute page (the form has `data-upload-api`) a chosen file goes first, in
 * resumable pieces (chunked_upload.js), with the progress bar over the whole file; the
 * form then posts without the file, carrying the upload's id in `upload_session`.
 * Without JavaScript the same form posts normally (small files only); the server
 * answers 303 to the material page on success and 400 with the form and its messages
 * on a refusal.
 */
'use strict';

import { forgetUpload, UploadRefused, uploadFile } from './chunked_upload.js';

/** Django's JavaScript catalogue (/jsi18n/) sets `window.gettext`; absent, texts stay English. */
const catalogue = /** @type {{gettext?: (text: string) => string}} */ (/** @type {unknown} */ (window));

/** @param {string} text */
const t = (text) => (typeof catalogue.gettext === 'function' ? catalogue.gettext(text) : text);

/**
 * Show only the fields that matter for the chosen kind (file, case or link).
 * @param {HTMLFormElement} form
 */
function showFieldsForKind(form) {
  const checked = /** @type {HTMLInputElement|null} */ (form.querySelector('input[name="kind"]:checked'));
  if (!checked) return;
  const kind = checked.value;
  const caseFields = ['history', 'examination', 'investigations', 'case_images', 'case_captions', 'question', 'discussion', 'learning_points'];
  /** @type {Record<string, boolean>} */
  const visible = { upload: kind === 'file', url: kind === 'link' };
  for (const name of caseFields) visible[name] = kind === 'case';
  for (const [name, show] of Object.entries(visible)) {
    const input = form.querySelector(`[name="${name}"]`);
    const wrapper = input ? input.closest('.field') : null;
    if (wrapper instanceof HTMLElement) wrapper.hidden = !show;
  }
}

/**
 * @param {number} bytes
 * @returns {string}
 */
function megabytes(bytes) {
  return (bytes / (1024 * 1024)).toFixed(1);
}

/**
 * Replace the form with the one the server rendered (it carries the messages).
 * @param {string} html
 * @returns {boolean} whether a form was found in the answer
 */
function replaceForm(html) {
  const doc = new DOMParser().parseFromString(html, 'text/html');
  const fresh = doc.getElementById('material-form-container');
  const current = document.getElementById('material-form-container');
  if (!fresh || !current) return false;
  current.replaceWith(document.importNode(fresh, true));
  bind();
  const firstError = document.querySelector('#material-form-container .errors');
  if (firstError instanceof HTMLElement) {
    firstError.setAttribute('tabindex', '-1');
    firstError.focus();
  }
  return true;
}

/**
 * @param {HTMLFormElement} form
 * @param {string} message
 */
function showError(form, message) {
  const box = /** @type {HTMLElement|null} */ (form.querySelector('.upload-error'));
  if (!box) return;
  box.textContent = message;
  box.hidden = false;
}

/**
 * The chosen file when it should travel in pieces (contribute page, kind "file").
 * @param {HTMLFormElement} form
 * @returns {File|null}
 */
function chunkedFile(form) {
  if (!form.dataset.uploadApi) return null;
  const checked = /** @type {HTMLInputElement|null} */ (form.querySelector('input[name="kind"]:checked'));
  if (checked && checked.value !== 'file') return null;
  const input = /** @type {HTMLInputElement|null} */ (form.querySelector('input[name="upload"]'));
  return input && input.files && input.files.length ? input.files[0] : null;
}

/**
 * @param {HTMLFormElement} form
 * @param {boolean} busy
 */
function setBusy(form, busy) {
  const button = /** @type {HTMLButtonElement|null} */ (form.querySelector('button[type="submit"]'));
  const progress = /** @type {HTMLElement|null} */ (form.querySelector('.upload-progress'));
  if (button) button.disabled = busy;
  if (progress) progress.hidden = !busy;
}

/**
 * @param {HTMLFormElement} form
 * @param {number} sent
 * @param {number} total
 */
function showProgress(form, sent, total) {
  const bar = /** @type {HTMLProgressElement|null} */ (form.querySelector('progress'));
  const label = /** @type {HTMLElement|null} */ (form.querySelector('.upload-progress-text'));
  if (!bar || !label || !total) return;
  const percent = Math.min(100, Math.floor((sent / total) * 100));
  bar.value = percent;
  label.textContent = `${percent}% — ${megabytes(sent)} / ${megabytes(total)} MB`;
}

/**
 * @param {HTMLFormElement} form
 * @param {string} text
 */
function showStatus(form, text) {
  const label = /** @type {HTMLElement|null} */ (form.querySelector('.upload-progress-text'));
  if (label) label.textContent = text;
}

/**
 * @param {HTMLFormElement} form
 * @param {SubmitEvent} event
 */
async function send(form, event) {
  event.preventDefault();
  const errorBox = /** @type {HTMLElement|null} */ (form.querySelector('.upload-error'));
  if (errorBox) errorBox.hidden = true;
  setBusy(form, true);
  const data = new FormData(form);
  const file = chunkedFile(form);
  if (file) {
    const csrf = /** @type {HTMLInputElement|null} */ (form.querySelector('input[name="csrfmiddlewaretoken"]'));
    try {
      const id = await uploadFile(file, {
        api: form.dataset.uploadApi || '',
        kind: form.dataset.uploadKind || 'file',
        csrf: csrf ? csrf.value : '',
        onProgress: (sent, total) => showProgress(form, sent, total),
        onRetry: (seconds) => showStatus(form, t('The connection was interrupted; trying again in a few seconds…') + ` (${seconds} s)`),
      });
      data.delete('upload');
      data.set('upload_session', id);
      const hidden = /** @type {HTMLInputElement|null} */ (form.querySelector('input[name="upload_session"]'));
      if (hidden) hidden.value = id;
      showStatus(form, t('Uploaded. Checking the file…'));
    } catch (error) {
      setBusy(form, false);
      if (error instanceof UploadRefused) showError(form, error.message);
      else showError(form, t('The connection was lost during the upload. Press the button again to continue where it stopped.'));
      return;
    }
  }
  postForm(form, data, file);
}

/**
 * Post the form (with a small file, or with the id of a finished chunked upload).
 * @param {HTMLFormElement} form
 * @param {FormData} data
 * @param {File|null} chunked  the file already sent in pieces, if any
 */
function postForm(form, data, chunked) {
  const xhr = new XMLHttpRequest();
  xhr.open('POST', form.action || window.location.href);
  xhr.setRequestHeader('X-Requested-With', 'XMLHttpRequest');
  if (!chunked) {
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) showProgress(form, e.loaded, e.total);
    });
    xhr.upload.addEventListener('load', () => showStatus(form, t('Uploaded. Checking the file…')));
  }
  xhr.addEventListener('load', () => {
    const redirected = xhr.responseURL && new URL(xhr.responseURL).pathname !== new URL(form.action || window.location.href).pathname;
    if (xhr.status >= 200 && xhr.status < 300 && redirected) {
      if (chunked) forgetUpload(chunked);
      window.location.assign(xhr.responseURL);
      return;
    }
    if (xhr.status === 400 && replaceForm(xhr.responseText)) return;
    setBusy(form, false);
    if (xhr.status === 413) showError(form, t('The file is larger than the server accepts.'));
    else if (xhr.status === 403) showError(form, t('You may not share material here.'));
    else showError(form, t('The upload failed; please try again.'));
  });
  xhr.addEventListener('error', () => {
    setBusy(form, false);
    showError(form, t('The connection was lost during the upload; please try again.'));
  });
  xhr.send(data);
}

function bind() {
  const form = document.querySelector('form[data-upload-form]');
  if (!(form instanceof HTMLFormElement)) return;
  form.addEventListener('submit', (event) => send(form, /** @type {SubmitEvent} */ (event)));
  form.addEventListener('change', (event) => {
    if (!(event.target instanceof HTMLInputElement)) return;
    if (event.target.name === 'kind') showFieldsForKind(form);
    if (event.target.name === 'upload') {
      // A new file: an earlier finished upload no longer applies.
      const hidden = /** @type {HTMLInputElement|null} */ (form.querySelector('input[name="upload_session"]'));
      if (hidden) hidden.value = '';
    }
  });
  showFieldsForKind(form);
}

bind();
