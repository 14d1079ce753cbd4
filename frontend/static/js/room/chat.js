'use strict';
/** The chat panel: the log and the send form. */
import {byId, el, t, timeOf} from './dom.js';

/**
 * @param {import('./state.js').RoomModel} model
 */
export function renderChat(model) {
  const log = byId('chat-log');
  const nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.replaceChildren(...model.chat.map((m) => el('li', {dataset: {seq: String(m.seq)}}, [
    el('span', {class: 'chat-name', text: m.name}), ' ',
    el('time', {class: 'muted', datetime: m.at, text: timeOf(m.at)}), ' ',
    el('span', {class: 'chat-text', text: m.text}),
  ])));
  if (nearBottom) log.scrollTop = log.scrollHeight;
  const off = !model.room.chat_enabled && !model.can('moderate');
  byId('chat-off').hidden = !off;
  /** @type {HTMLButtonElement} */ (byId('chat-form').querySelector('button')).disabled = off || model.you.muted;
}

/**
 * @param {import('./protocol.js').RoomConnection} connection
 * @param {(error: any) => void} onError
 */
export function wireChat(connection, onError) {
  const form = /** @type {HTMLFormElement} */ (byId('chat-form'));
  const input = /** @type {HTMLInputElement} */ (byId('chat-text'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    connection.send('chat.send', {text}).catch((error) => { input.value = text; onError(error); });
  });
  void t;
}
