'use strict';
/**
 * Audio and video of a live room, over the room's own socket: the connection, without DOM
 * (like Galène's protocol.js): what the person does and how the room's messages change
 * it, on top of ./negotiation.js (the peer connection, the signalling and the serial
 * queue). ./tiles.js shows it and imports this module; this module imports nothing of the
 * page and tells what happened as events (MediaEvents in ./negotiation.js).
 *
 * One RTCPeerConnection per person, to the SFU (sessions/media). The browser always
 * makes the first offer (its camera and microphone if it may publish, else only a data
 * channel); the server answers, then sends its own offers whenever the streams this
 * person receives change (media.offer), which we answer. Every negotiation step (our
 * offers, the server's offers) runs one at a time in `serial`, so a screen share or a
 * floor grant never calls createOffer while the server's offer is being applied.
 * Subscriptions are ours to choose: everything, or audio only (the low-bandwidth switch).
 * Video comes as the original or as the server's shared low-resolution copy: the server
 * picks from our browser's bandwidth estimate (`media.quality` "auto", the default),
 * unless the person chooses "low quality video"; the server says which one we get
 * (`media.quality` back). When the host takes the floor back or mutes us, the server
 * stops forwarding what we send and says so (`media.unpublished`); we stop sending it.
 * Protocol: see sessions/media/signalling.py and docs/media.md.
 *
 * Nothing starts by itself: a person checks camera and microphone first, then joins.
 */

import { Negotiation } from './negotiation.js';

/** @typedef {import('./negotiation.js').Transport} Transport */
/** @typedef {import('./negotiation.js').Quality} Quality */

const QUALITY_INTERVAL_MS = 2000;

/** Why the server stopped forwarding what we send (`media.unpublished` reasons): text keys. */
const UNPUBLISHED_KEY = { floor_revoked: 'floorRevoked', role_changed: 'roleChanged', muted: 'mutedByHost' };

/**
 * The media connection of this page. `window.openroundsMedia` is this object (set by
 * ./room_media.js for the browser tests and the devtools console only).
 */
export class MediaConnection extends Negotiation {
  // --------------------------------------------------------------- state from the room

  /**
   * The room snapshot's `media` part and its participant cards.
   * @param {{media?: any, participants?: Array<{user_id: number, name: string}>}} snapshot
   */
  applySnapshot(snapshot) {
    const media = snapshot.media || {};
    if (this.joined) {
      // The room socket reconnected: tell the worker where we are now (it then repeats
      // an offer we may have missed) and keep our subscriptions as they were.
      this.sentQuality = null;
      this.sendQuality();
      this.send('media.subscribe', { publisher: '*', kinds: this.lowBandwidth ? ['audio'] : ['audio', 'video'] });
    }
    this.mayPublish = Boolean(media.may_publish);
    this.allowed = media.allowed !== false;
    this.mayRecord = Boolean(media.may_record);
    this.me = media.participant || this.me;
    for (const card of snapshot.participants || []) this.names.set(String(card.user_id), card.name);
    this.setRecording(Boolean(media.recording));
    this.emit('rights');
    if (!this.allowed) this.say('consent');
  }

  /**
   * Every message of the room socket passes here; media ones are handled.
   * @param {any} message
   */
  receive(message) {
    if (!message || typeof message.type !== 'string') return;
    const type = message.type;
    if (message.reply_to && this.waiting.has(message.reply_to)) {
      const resolve = this.waiting.get(message.reply_to);
      this.waiting.delete(message.reply_to);
      resolve(message);
      if (type === 'media.answer' || type === 'media.error') return; // the waiting step handles it
    }
    if (type === 'snapshot') this.applySnapshot(message);
    else if (type === 'media.offer') this.onServerOffer(message).catch((error) => this.problem(error));
    else if (type === 'media.publications') this.emit('publications', { publications: message.publications || [] });
    else if (type === 'media.speaker') this.onSpeaker(message.participant);
    else if (type === 'media.closed') this.onClosed(message.reason);
    else if (type === 'media.quality') this.emit('quality', message);
    else if (type === 'media.unpublished') this.onUnpublished(message);
    else if (type === 'participant.unmuted' && String((message.data || {}).user_id) === this.me) this.onUnmuted().catch(() => {});
    else if (type === 'media.error') this.refused(message);
    else if (type === 'media.recording') this.setRecording(Boolean((message.data || {}).active));
    else if (type === 'media.moved') this.onMoved(message.data || {}).catch((error) => this.problem(error));
    else if (type === 'floor.granted' || type === 'floor.revoked') this.onFloor(type, message.data || {});
    else if (type === 'presence') {
      for (const card of (message.data || {}).joined || []) this.names.set(String(card.user_id), card.name);
    }
  }

  // ------------------------------------------------------------------ device check

  /** Open camera and microphone (the device check); `local` event with the stream. */
  async checkDevices() {
    this.stopLocal();
    try {
      this.local = await navigator.mediaDevices.getUserMedia({
        audio: true, video: { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 15 } },
      });
    } catch (error) {
      this.say('noDevices');
      return;
    }
    this.emit('local', { stream: this.local });
    this.say('devicesOk');
  }

  /** @param {boolean} sending publish camera and microphone (if allowed) */
  async join(sending) {
    if (this.joined) return;
    this.sending = sending;
    if (!this.allowed) {
      this.say('consent');
      return;
    }
    const pc = new RTCPeerConnection({
      iceServers: await this.iceServers(),
      iceTransportPolicy: this.relayOnly ? 'relay' : 'all',
      bundlePolicy: 'max-bundle',
    });
    this.pc = pc;
    pc.addEventListener('track', (event) => this.onTrack(event));
    pc.addEventListener('connectionstatechange', () => {
      this.emit('connectionstate', { state: pc.connectionState });
      if (pc.connectionState === 'failed') this.say('failed');
    });
    if (sending && this.mayPublish) {
      if (!this.local) await this.checkDevices();
      if (this.local) {
        for (const track of this.local.getTracks()) {
          const transceiver = pc.addTransceiver(track, { direction: 'sendonly', streams: [this.local] });
          this.localTransceivers.set(track.kind, transceiver);
        }
        if (this.lowBandwidth) this.pauseCamera(true);
      }
    } else {
      this.stopLocal();
    }
    pc.createDataChannel('control');
    this.joined = true;
    const answer = await this.offer();
    if (!answer || answer.type !== 'media.answer') {
      await this.leave();
      return;
    }
    this.emit('joined');
    this.emit('buttons');
    this.sentQuality = null;
    this.sendQuality();
    this.send('media.subscribe', { publisher: '*', kinds: this.lowBandwidth ? ['audio'] : ['audio', 'video'] });
    this.qualityTimer = setInterval(() => this.measure().catch(() => {}), QUALITY_INTERVAL_MS);
  }

  /** @param {string|null|undefined} participant */
  onSpeaker(participant) {
    this.speaker = participant || null;
    this.emit('speaker');
  }

  // ----------------------------------------------------------------------- controls

  toggleMute() {
    const audio = this.localTransceivers.get('audio');
    if (audio && audio.sender.track) audio.sender.track.enabled = !audio.sender.track.enabled;
    this.emit('buttons');
  }

  /**
   * Stop or resume sending the camera without renegotiating (replaceTrack).
   * @param {boolean} paused
   */
  pauseCamera(paused) {
    const video = this.localTransceivers.get('video');
    const camera = this.local && this.local.getVideoTracks()[0];
    if (!video || !camera) return;
    video.sender.replaceTrack(paused ? null : camera);
  }

  toggleCamera() {
    const video = this.localTransceivers.get('video');
    if (video) this.pauseCamera(Boolean(video.sender.track));
    this.emit('buttons');
  }

  async toggleScreen() {
    if (!this.pc) return;
    if (this.screenTrack) {
      this.screenTrack.stop();
      this.screenTrack = null;
      if (this.screenTransceiver) {
        await this.screenTransceiver.sender.replaceTrack(null);
        this.screenTransceiver.direction = 'inactive';
      }
      this.emit('buttons');
      await this.offer();
      return;
    }
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 5 } }, audio: false });
    const track = stream.getVideoTracks()[0];
    track.contentHint = 'detail';
    track.addEventListener('ended', () => { if (this.screenTrack === track) this.toggleScreen(); });
    this.screenTrack = track;
    if (this.screenTransceiver) {
      await this.screenTransceiver.sender.replaceTrack(track);
      this.screenTransceiver.direction = 'sendonly';
    } else {
      this.screenTransceiver = this.pc.addTransceiver(track, { direction: 'sendonly' });
    }
    this.emit('buttons');
    await this.offer();
  }

  /**
   * Audio only: receive no video, send no camera.
   * @param {boolean} on
   */
  async setLowBandwidth(on) {
    this.lowBandwidth = on;
    if (!this.joined) return;
    this.pauseCamera(on);
    if (on) this.send('media.unsubscribe', { publisher: '*', kinds: ['video'] });
    else this.send('media.subscribe', { publisher: '*', kinds: ['audio', 'video'] });
    this.emit('buttons');
  }

  /** What we ask the server for: the shared low copy when chosen, else its own choice. */
  videoQuality() {
    return this.lowVideo ? 'low' : 'auto';
  }

  /** Tell the server (only when it changed): media.quality {video: auto|low}. */
  sendQuality() {
    if (!this.joined) return;
    const quality = this.videoQuality();
    if (quality === this.sentQuality) return;
    this.sentQuality = quality;
    this.send('media.quality', { video: quality });
  }

  /**
   * The manual "low quality video" choice.
   * @param {boolean} on
   */
  setLowVideo(on) {
    this.lowVideo = on;
    this.sendQuality();
  }

  async toggleRecording() {
    this.send('media.record', { action: this.recording ? 'stop' : 'start' });
  }

  /** @param {boolean} active */
  setRecording(active) {
    this.recording = active;
    this.emit('recording');
  }

  /**
   * @param {string} type floor.granted or floor.revoked
   * @param {{user_id?: number}} data
   */
  onFloor(type, data) {
    if (String(data.user_id) !== this.me) return;
    this.mayPublish = type === 'floor.granted';
    if (this.mayPublish) this.publishing = '';
    this.emit('rights');
    if (this.mayPublish) {
      this.say('floor');
      if (this.joined && !this.localTransceivers.size) this.startSending().catch((error) => this.problem(error));
    } else if (this.localTransceivers.size) {
      for (const transceiver of this.localTransceivers.values()) {
        transceiver.sender.replaceTrack(null);
        transceiver.direction = 'inactive';
      }
      this.localTransceivers.clear();
      this.stopLocal();
      this.emit('buttons');
      this.offer().catch(() => {});
    }
  }

  /**
   * The server stopped forwarding some of what we send (the host took the floor back,
   * demoted or muted us): stop sending it, offer again without it, and say why.
   * @param {{reason?: string, sources?: string[]}} message
   */
  onUnpublished(message) {
    const reason = message.reason || '';
    this.say(UNPUBLISHED_KEY[reason] || 'unpublished');
    this.publishing = reason || 'stopped';
    const sources = new Set(message.sources || []);
    let changed = false;
    for (const [kind, transceiver] of [...this.localTransceivers]) {
      if (!sources.has(kind === 'audio' ? 'audio' : 'camera')) continue;
      const track = transceiver.sender.track;
      if (track) {
        track.stop();
        if (this.local) this.local.removeTrack(track);
      }
      transceiver.sender.replaceTrack(null);
      transceiver.direction = 'inactive';
      this.localTransceivers.delete(kind);
      changed = true;
    }
    if (sources.has('screen') && this.screenTrack) {
      this.screenTrack.stop();
      this.screenTrack = null;
      if (this.screenTransceiver) {
        this.screenTransceiver.sender.replaceTrack(null);
        this.screenTransceiver.direction = 'inactive';
      }
      changed = true;
    }
    if (reason !== 'muted' && reason !== '') this.mayPublish = false;
    this.emit('rights');
    if (!this.localTransceivers.size) this.stopLocal();
    this.emit('buttons');
    if (changed) this.offer().catch(() => {});
  }

  /** The host unmuted us: send the microphone again (if we were sending at all). */
  async onUnmuted() {
    if (this.publishing === 'muted') {
      this.publishing = '';
      this.emit('rights');
    }
    if (!this.pc || !this.mayPublish || this.localTransceivers.has('audio') || !this.localTransceivers.size) return;
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (error) {
      return;
    }
    const track = stream.getAudioTracks()[0];
    if (!track || !this.pc) return;
    if (this.local) this.local.addTrack(track);
    this.localTransceivers.set('audio', this.pc.addTransceiver(track, { direction: 'sendonly', streams: this.local ? [this.local] : [] }));
    this.emit('buttons');
    await this.offer();
  }

  /** Given the floor while watching: add camera and microphone and offer again. */
  async startSending() {
    if (!this.pc) return;
    await this.checkDevices();
    if (!this.local) return;
    for (const track of this.local.getTracks()) {
      this.localTransceivers.set(track.kind, this.pc.addTransceiver(track, { direction: 'sendonly', streams: [this.local] }));
    }
    this.emit('buttons');
    await this.offer();
  }

  /**
   * The media server carrying us is gone or being replaced (room event `media.moved`):
   * join again, the same way, on the worker the server places us on now. The room
   * socket stays; only audio and video reconnect. A replayed old move names another
   * worker and changes nothing.
   * @param {{worker?: string, reason?: string}} data
   */
  async onMoved(data) {
    if (!this.joined || !data.worker || String(data.worker) !== this.worker) return;
    const sending = this.sending && this.localTransceivers.size > 0;
    this.emit('reconnecting', { active: true });
    this.say('reconnecting');
    this.teardown();
    await this.join(sending);
    this.emit('reconnecting', { active: false });
    if (this.joined) this.say('reconnected');
  }

  /** @param {string} reason */
  onClosed(reason) {
    this.say('closed', String(reason));
    this.teardown();
  }

  async leave() {
    if (this.joined) this.send('media.leave', {});
    this.teardown();
  }

  teardown() {
    clearInterval(this.qualityTimer);
    this.negotiation = Promise.resolve(); // a step of the old connection must not hold up a new one
    if (this.pc) this.pc.close();
    this.pc = null;
    this.joined = false;
    this.stopLocal();
    if (this.screenTrack) this.screenTrack.stop();
    this.screenTrack = null;
    this.screenTransceiver = null;
    this.localTransceivers.clear();
    this.incoming.clear();
    this.emit('left');
  }
}
