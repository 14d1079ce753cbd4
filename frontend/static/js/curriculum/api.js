// The course API connection (/api/courses/): no DOM here, only requests and errors.
'use strict';

/**
 * @typedef {{code: string, message: string}} ApiError
 * @typedef {{ok: boolean, body?: any, error?: ApiError}} ApiResult  the body when ok, else the error
 */

/**
 * Send one JSON request with the page's CSRF token.
 * @param {string} method
 * @param {string} url
 * @param {string} csrfToken
 * @param {unknown} [body]
 * @returns {Promise<ApiResult>}
 */
async function send(method, url, csrfToken, body) {
  /** @type {RequestInit} */
  const init = {
    method,
    credentials: 'same-origin',
    headers: { 'X-CSRFToken': csrfToken, 'Accept': 'application/json' },
  };
  if (body !== undefined) {
    init.headers = { ...init.headers, 'Content-Type': 'application/json' };
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (_error) {
    return { ok: false, error: { code: 'network', message: '' } };
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch (_error) {
    payload = null;
  }
  if (response.ok) {
    return { ok: true, body: payload };
  }
  const error = payload && typeof payload.message === 'string'
    ? { code: String(payload.code || response.status), message: payload.message }
    : { code: String(response.status), message: '' };
  return { ok: false, error };
}

/**
 * The calls one course page needs.
 * @param {number} courseId
 * @param {string} csrfToken
 */
export function courseApi(courseId, csrfToken) {
  const base = `/api/courses/${courseId}`;
  return {
    /** @param {number[]} ids */
    orderModules: (ids) => send('POST', `${base}/modules/order`, csrfToken, { ids }),
    /** @param {number} moduleId @param {number[]} ids */
    orderItems: (moduleId, ids) => send('POST', `${base}/modules/${moduleId}/items/order`, csrfToken, { ids }),
    /** @param {number} itemId */
    removeItem: (itemId) => send('DELETE', `${base}/items/${itemId}`, csrfToken),
    /** @param {number} moduleId */
    removeModule: (moduleId) => send('DELETE', `${base}/modules/${moduleId}`, csrfToken),
    /** @param {number} itemId @param {string} status */
    setProgress: (itemId, status) => send('PUT', `${base}/items/${itemId}/progress`, csrfToken, { status }),
  };
}

/**
 * The CSRF token of the first form on the page (every form carries one).
 * @param {ParentNode} root
 * @returns {string}
 */
export function csrfTokenIn(root) {
  const input = root.querySelector('input[name="csrfmiddlewaretoken"]');
  return input instanceof HTMLInputElement ? input.value : '';
}
