'use strict';
/**
 * The room's broadcast section (templates/media/broadcast.html): the host's switch, and
 * "Watch the broadcast" / "Listen only" for everyone else. It follows the room's bus:
 * the snapshot's `broadcast` part, the room event `media.broadcast` ({active}), and a
 * `media.error` of the media part (`media_unavailable`: the media server is full or down,
 * so the broadcast is offered). The player itself (./broadcast_player.js, and hls.js where
 * the browser has no native HLS) is imported only when someone presses Watch or Listen.
 */

import { connection } from '../room/live.js';
import { subscribe } from '../room/bus.js';

const root = /** @type {HTMLElement|null} */ (document.querySelector('[data-broadcast]'));

if (root) {
  const part = (/** @type {string} */ name) => /** @type {HTMLElement} */ (root.querySelector(`[data-broadcast-${name}]`));
  const text = (/** @type {string} */ key) => root.dataset[`t${key[0].toUpperCase()}${key.slice(1)}`] || '';
  const status = part('status');
  const toggle = part('toggle');
  const watch = part('watch');
  const listen = part('listen');
  const close = part('close');
  const video = /** @type {HTMLVideoElement} */ (part('video'));
  const saver = root.dataset.dataSaver === '1';
  const base = `/rooms/${root.dataset.sessionId}/broadcast`;
  const state = { allowed: false, active: false, mayBroadcast: false, watching: false };
  /** @type {{stop: () => void}|null} */
  let player = null;

  const render = () => {
    root.hidden = !state.allowed || (!state.active && !state.mayBroadcast);
    toggle.hidden = !state.mayBroadcast;
    toggle.textContent = state.active ? text('stop') : text('start');
    watch.hidden = listen.hidden = !state.active || state.watching;
    close.hidden = !state.watching;
    video.hidden = !state.watching;
    if (state.active && !state.watching) status.textContent = saver ? `${text('live')} ${text('liveSaver')}` : text('live');
  };

  const stopWatching = () => {
    if (player) player.stop();
    player = null;
    state.watching = false;
    render();
  };

  /** @param {'watch'|'listen'} mode */
  const startWatching = async (mode) => {
    // Data savers start on the low rendition; "Listen only" fetches the audio rendition alone.
    const playlist = mode === 'listen' ? `${base}/audio.m3u8` : saver ? `${base}/360p.m3u8` : `${base}/master.m3u8`;
    state.watching = true;
    render();
    try {
      const { playBroadcast } = await import('./broadcast_player.js');
      player = await playBroadcast(video, playlist, root.dataset.hlsUrl || '');
      status.textContent = '';
    } catch (error) {
      state.watching = false;
      status.textContent = text('failed');
      render();
    }
  };

  /** @param {any} broadcast */
  const apply = (broadcast) => {
    if (!broadcast) return;
    state.allowed = !!broadcast.allowed;
    state.active = !!broadcast.active;
    state.mayBroadcast = !!broadcast.may_broadcast;
    render();
  };

  subscribe('room:snapshot', (snapshot) => apply(snapshot && snapshot.broadcast));
  subscribe('room:event', (event) => {
    if (event.type !== 'media.broadcast') return;
    state.active = !!(event.data && event.data.active);
    if (!state.active) {
      stopWatching();
      status.textContent = text('off');
    }
    render();
  });
  subscribe('room:message', (message) => {
    if (message.type === 'media.error' && message.code === 'media_unavailable' && state.active && !state.watching) {
      status.textContent = text('unavailable');
    }
  });
  toggle.addEventListener('click', () => {
    if (!state.active) status.textContent = text('starting');
    connection.send('media.broadcast', { action: state.active ? 'stop' : 'start' }).catch(() => {});
  });
  watch.addEventListener('click', () => startWatching('watch'));
  listen.addEventListener('click', () => startWatching('listen'));
  close.addEventListener('click', stopWatching);
}
