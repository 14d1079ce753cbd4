// @ts-check
/**
 * Resumable chunked uploads to /api/library/uploads (the connection; the UI is upload.js).
 *
 * A file is sent in pieces (the server suggests 4 MB), each a separate PUT with the
 * CSRF token, at the offset the server says it has. When a piece fails (3G drops, a
 * proxy times out) the client waits, asks the server how many bytes arrived and goes
 * on from there; a page reload resumes too, because the upload's id is remembered in
 * sessionStorage under the file's name, size and date. The server refuses a file from
 * its first piece if it is of a type the library does not take, with the same message
 * as a whole-file upload.
 */
'use strict';

/**
 * @typedef {object} UploadState
 * @property {string} id
 * @property {number} size
 * @property {number} received
 * @property {boolean} complete
 * @property {number} chunk_size
 */

/**
 * @typedef {object} UploadOptions
 * @property {string} api  e.g. "/api/library/uploads"
 * @property {string} csrf  the CSRF token of the page
 * @property {string} [kind]  "file" (decided from the content) or a file kind
 * @property {(sent: number, total: number) => void} [onProgress]  bytes over the whole file
 * @property {(seconds: number, attempt: number) => void} [onRetry]  a piece failed; retrying soon
 */

/** A refusal by the server: its message is for the person. */
export class UploadRefused extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The connection failed or the server had a passing problem: worth retrying. */
class TransientFailure extends Error {}

const MAX_ATTEMPTS = 8;
const RETRY_SECONDS = [1, 2, 4, 8, 15, 30, 30, 30];

/**
 * @param {File} file
 * @returns {string}
 */
function storageKey(file) {
  return `openrounds-upload:${file.name}:${file.size}:${file.lastModified}`;
}

/** @param {number} seconds */
const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

/**
 * One request; resolves with the status and JSON body, rejects with TransientFailure
 * on a network error or a 5xx answer.
 * @param {string} method
 * @param {string} url
 * @param {{csrf: string, body?: Blob|string|null, contentType?: string, headers?: Record<string, string>,
 *          onProgress?: (loaded: number) => void}} options
 * @returns {Promise<{status: number, json: any}>}
 */
function call(method, url, options) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    xhr.setRequestHeader('X-CSRFToken', options.csrf);
    xhr.setRequestHeader('Accept', 'application/json');
    if (options.contentType) xhr.setRequestHeader('Content-Type', options.contentType);
    for (const [name, value] of Object.entries(options.headers || {})) xhr.setRequestHeader(name, value);
    if (options.onProgress) {
      const report = options.onProgress;
      xhr.upload.addEventListener('progress', (e) => report(e.loaded));
    }
    xhr.addEventListener('load', () => {
      if (xhr.status >= 500 || xhr.status === 0) {
        reject(new TransientFailure(`HTTP ${xhr.status}`));
        return;
      }
      let json = null;
      try {
        json = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch (_error) {
        json = null;
      }
      resolve({ status: xhr.status, json });
    });
    xhr.addEventListener('error', () => reject(new TransientFailure('network')));
    xhr.addEventListener('timeout', () => reject(new TransientFailure('timeout')));
    xhr.send(options.body ?? null);
  });
}

/**
 * @param {{status: number, json: any}} answer
 * @returns {UploadRefused}
 */
function refusal(answer) {
  const body = answer.json || {};
  return new UploadRefused(answer.status, body.code || 'refused', body.message || body.detail || 'The upload was refused.');
}

/**
 * SHA-256 of a piece, hex, when the browser offers it (secure contexts only).
 * @param {Blob} piece
 * @returns {Promise<string>}
 */
async function pieceDigest(piece) {
  if (!window.crypto || !window.crypto.subtle) return '';
  const hash = await window.crypto.subtle.digest('SHA-256', await piece.arrayBuffer());
  return Array.from(new Uint8Array(hash), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The server's state of a remembered upload of this file, or null.
 * @param {File} file
 * @param {UploadOptions} options
 * @returns {Promise<UploadState|null>}
 */
async function remembered(file, options) {
  const id = window.sessionStorage.getItem(storageKey(file));
  if (!id) return null;
  try {
    const answer = await call('GET', `${options.api}/${encodeURIComponent(id)}`, { csrf: options.csrf });
    if (answer.status === 200 && answer.json && answer.json.size === file.size) return answer.json;
  } catch (_error) {
    return null;
  }
  window.sessionStorage.removeItem(storageKey(file));
  return null;
}

/**
 * Send `file` in pieces, resuming where the server is; resolves with the upload's id
 * once every byte is on the server. Rejects with UploadRefused (a message to show) or,
 * after MAX_ATTEMPTS failed tries in a row, with an Error.
 * @param {File} file
 * @param {UploadOptions} options
 * @returns {Promise<string>}
 */
export async function uploadFile(file, options) {
  let state = await remembered(file, options);
  if (!state) {
    const answer = await call('POST', options.api, {
      csrf: options.csrf,
      contentType: 'application/json',
      body: JSON.stringify({ name: file.name, size: file.size, kind: options.kind || 'file' }),
    });
    if (answer.status !== 201) throw refusal(answer);
    state = /** @type {UploadState} */ (answer.json);
    window.sessionStorage.setItem(storageKey(file), state.id);
  }
  const id = state.id;
  const chunk = state.chunk_size;
  let offset = state.received;
  let failures = 0;
  const progress = options.onProgress || (() => {});
  progress(offset, file.size);
  while (offset < file.size) {
    const piece = file.slice(offset, Math.min(offset + chunk, file.size));
    const start = offset;
    try {
      const digest = await pieceDigest(piece);
      const answer = await call('PUT', `${options.api}/${encodeURIComponent(id)}/chunks?offset=${start}`, {
        csrf: options.csrf,
        body: piece,
        contentType: 'application/octet-stream',
        headers: digest ? { 'X-Chunk-SHA256': digest } : {},
        onProgress: (loaded) => progress(start + loaded, file.size),
      });
      if (answer.status === 200) {
        offset = answer.json.received;
        failures = 0;
      } else if (answer.status === 409 && answer.json && typeof answer.json.received === 'number') {
        offset = answer.json.received; // the server has a different amount: continue from there
      } else if (answer.status === 400 && answer.json && /^upload_chunk_(corrupted|incomplete)$/.test(answer.json.code)) {
        throw new TransientFailure(answer.json.code);
      } else {
        if (answer.status === 403 || answer.status === 413 || answer.status === 400) {
          window.sessionStorage.removeItem(storageKey(file));
        }
        throw refusal(answer);
      }
    } catch (error) {
      if (!(error instanceof TransientFailure)) throw error;
      failures += 1;
      if (failures >= MAX_ATTEMPTS) throw new Error('connection');
      const wait = RETRY_SECONDS[Math.min(failures - 1, RETRY_SECONDS.length - 1)];
      if (options.onRetry) options.onRetry(wait, failures);
      await sleep(wait);
      try {
        const status = await call('GET', `${options.api}/${encodeURIComponent(id)}`, { csrf: options.csrf });
        if (status.status === 200) offset = status.json.received;
        else throw refusal(status);
      } catch (again) {
        if (!(again instanceof TransientFailure)) throw again;
      }
    }
    progress(offset, file.size);
  }
  return id;
}

/**
 * Forget the remembered upload of `file` (after the material was made).
 * @param {File} file
 */
export function forgetUpload(file) {
  window.sessionStorage.removeItem(storageKey(file));
}
