// The camera and microphone of the broadcast page: open them (the chosen devices), list the
// devices (their names only exist after permission), swap one track, mute by track.enabled.

const CAMERA_ERRORS = {
  NotAllowedError: 'Camera or microphone access was refused. Allow it for this site in the browser settings, then try again.',
  NotFoundError: 'No camera or microphone was found. Connect one and try again.',
  NotReadableError: 'The camera or microphone is in use by another application.',
  OverconstrainedError: 'The chosen camera or microphone is no longer there. Pick another one.',
};
const VIDEO = { width: { ideal: 1280 }, height: { ideal: 720 } };
const KINDS = { video: 'videoinput', audio: 'audioinput' };

function constraint(kind, deviceId) {
  const base = kind === 'video' ? VIDEO : {};
  return { ...base, ...(deviceId ? { deviceId: { exact: deviceId } } : {}) };
}

async function capture(request) {
  try {
    return await navigator.mediaDevices.getUserMedia(request);
  } catch (error) {
    throw new Error(CAMERA_ERRORS[error.name] ?? `The camera could not be opened: ${error.message}`);
  }
}

/** Fill a <select> with the devices of one kind, keeping `chosen` selected. */
function fillPicker(select, devices, chosen, noun) {
  select.replaceChildren(...devices.map((device, index) => {
    const option = new Option(device.label || `${noun} ${index + 1}`, device.deviceId);
    option.selected = device.deviceId === chosen;
    return option;
  }));
  select.disabled = devices.length === 0;
}

/** The page's capture: one MediaStream (one video and one audio track) shown in `preview`. */
export class Capture {
  constructor(preview) {
    this.preview = preview;
    this.media = null;
    this.opening = null; // one getUserMedia at a time (page load and "Go live" may overlap)
    this.muted = { video: false, audio: false };
    this.onEnded = null; // (kind) => …: a device went away (unplugged, access withdrawn)
  }

  #watch(track) {
    track.enabled = !this.muted[track.kind];
    // stop() fires no "ended": this is the device or the browser ending it.
    track.addEventListener('ended', () => this.onEnded?.(track.kind));
  }

  /** Open the camera and microphone (`choice`: deviceIds by kind) unless they are open. */
  async open(choice = {}) {
    if (this.media) return this.media;
    this.opening ??= this.#open(choice).finally(() => { this.opening = null; });
    return this.opening;
  }

  async #open(choice) {
    const media = await capture({ video: constraint('video', choice.video), audio: constraint('audio', choice.audio) });
    for (const track of media.getTracks()) this.#watch(track);
    this.media = media;
    this.preview.srcObject = media;
    return media;
  }

  track(kind) {
    return this.media?.getTracks().find((track) => track.kind === kind) ?? null;
  }

  /** The devices in use (their ids) and the pickers filled with every device. */
  async fillPickers(cameraSelect, microphoneSelect) {
    const all = await navigator.mediaDevices.enumerateDevices();
    const of = (kind) => all.filter((device) => device.kind === KINDS[kind] && device.deviceId);
    const inUse = (kind) => this.track(kind)?.getSettings().deviceId ?? '';
    fillPicker(cameraSelect, of('video'), inUse('video'), 'Camera');
    fillPicker(microphoneSelect, of('audio'), inUse('audio'), 'Microphone');
  }

  /**
   * Use another device for `kind`. A live sender gets the new track by replaceTrack: no
   * renegotiation, viewers stay connected.
   */
  async swap(kind, deviceId, sender) {
    const old = this.track(kind);
    old?.stop(); // some cameras open once only
    const [track] = (await capture({ [kind]: constraint(kind, deviceId) })).getTracks();
    this.#watch(track);
    if (old) this.media.removeTrack(old);
    this.media.addTrack(track);
    this.preview.srcObject = this.media;
    await sender?.replaceTrack(track);
  }

  /** Mute: the track keeps flowing as black frames or silence (no renegotiation). */
  setMuted(kind, muted) {
    this.muted[kind] = muted;
    const track = this.track(kind);
    if (track) track.enabled = !muted;
  }

  close() {
    this.media?.getTracks().forEach((track) => track.stop());
    this.media = null;
    this.preview.srcObject = null;
  }
}
