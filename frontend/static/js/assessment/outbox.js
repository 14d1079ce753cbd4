// The quiz outbox: attempts waiting to reach the server, kept in localStorage so that
// answers given without a network survive until it is back (and a page reload).
// No DOM here: the connection side of the quiz (quiz.js is the UI).
//
// Each attempt carries a client_id made here once; the server counts an attempt once per
// client_id, so sending it again (a retry, two tabs, an `online` event racing a timer) is
// harmless. An attempt leaves the outbox only when the server answered (accepted or
// refused for good); a network failure or a 5xx keeps it for the next try.
'use strict';

// One outbox per signed-in person: on a shared device another learner's page must never
// send (and so be credited with) someone else's queued answers.
let KEY = 'openrounds.quiz.outbox.v1';

/** @param {string} userId  the signed-in person whose outbox this page uses */
export function outboxUse(userId) {
  KEY = `openrounds.quiz.outbox.v1.${userId}`;
}

/**
 * @typedef {{question_id: number, options: number[], text: string}} QueuedAnswer
 * @typedef {{client_id: string, set_id: number, answered_at: string, answers: QueuedAnswer[]}} QueuedAttempt
 * @typedef {{ok: boolean, body?: any, final?: boolean, code?: string, message?: string}} SendResult  final: a refusal not worth retrying
 */

/** @returns {QueuedAttempt[]} */
export function outboxRead() {
  try {
    const raw = window.localStorage.getItem(KEY);
    const parsed = raw ? JSON.parse(raw) : [];
    return Array.isArray(parsed) ? parsed : [];
  } catch (_error) {
    return [];
  }
}

/** @param {QueuedAttempt[]} attempts */
function outboxWrite(attempts) {
  window.localStorage.setItem(KEY, JSON.stringify(attempts));
}

/** @param {QueuedAttempt} attempt */
export function outboxAdd(attempt) {
  const attempts = outboxRead().filter((queued) => queued.client_id !== attempt.client_id);
  attempts.push(attempt);
  outboxWrite(attempts);
}

/** @param {string} clientId */
function outboxRemove(clientId) {
  outboxWrite(outboxRead().filter((queued) => queued.client_id !== clientId));
}

/** @returns {string} */
export function newClientId() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  // randomUUID exists only in secure contexts; a school's plain-HTTP server is not one.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Send one attempt. 201 (new) and 200 (already counted) are both success.
 * @param {QueuedAttempt} attempt
 * @param {string} csrfToken
 * @returns {Promise<SendResult>}
 */
async function send(attempt, csrfToken) {
  let response;
  try {
    response = await fetch(`/api/assessment/sets/${attempt.set_id}/attempts`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json', 'X-CSRFToken': csrfToken },
      body: JSON.stringify({ client_id: attempt.client_id, answered_at: attempt.answered_at, answers: attempt.answers }),
    });
  } catch (_error) {
    return { ok: false, final: false, code: 'network', message: '' };
  }
  let body = null;
  try {
    body = await response.json();
  } catch (_error) {
    body = null;
  }
  if (response.ok) return { ok: true, body };
  // 4xx is the server's final word on these answers (no attempts left, not a learner…);
  // anything else (5xx, a proxy's error page) is worth another try.
  const final = response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429;
  const message = body && typeof body.message === 'string' ? body.message : '';
  return { ok: false, final, code: body && body.code ? String(body.code) : String(response.status), message };
}

let flushing = false;

/**
 * Send every queued attempt, one at a time. Reentrant calls while a flush runs return at
 * once (the running flush picks up what they would have sent).
 * @param {string} csrfToken
 * @param {(attempt: QueuedAttempt, result: SendResult) => void} onSettled  called once per attempt that left the outbox
 * @returns {Promise<number>} how many are still waiting
 */
export async function outboxFlush(csrfToken, onSettled) {
  if (flushing) return outboxRead().length;
  flushing = true;
  try {
    for (const attempt of outboxRead()) {
      const result = await send(attempt, csrfToken);
      if (!result.ok && !result.final) break; // offline again: keep the rest in order
      outboxRemove(attempt.client_id);
      onSettled(attempt, result);
    }
  } finally {
    flushing = false;
  }
  return outboxRead().length;
}
