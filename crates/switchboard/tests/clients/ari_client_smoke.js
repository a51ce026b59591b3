// Smoke test of npm ari-client against switchboard: connect (the client builds
// itself from the api-docs), then for the first call into the application:
// StasisStart with args, answer, play sound:tone1k to the end, wait for a DTMF
// digit, originate a second channel to PJSIP/1001 into the application, bridge
// the two in a mixing bridge, record the bridge for about 3 s, hang both up and
// see their StasisEnd and ChannelDestroyed.
// Usage: node ari_client_smoke.js <http://host:port> <user> <password> <app>
// Prints READY once connected, BRIDGED once both channels are in the bridge,
// RECORDED once the recording has finished (before the hangups) and
// RESULT <json> at the end; exits 0 on success.
'use strict';
const ari = require('ari-client');

const [url, user, password, app] = process.argv.slice(2);
const RECORDING = 'smoke-js';
const result = { client: 'ari-client', events: [] };
const fail = (why) => {
  console.log('RESULT ' + JSON.stringify(Object.assign(result, { error: String(why) })));
  process.exit(1);
};
setTimeout(() => fail('timeout'), 40000);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Resolves with the first `type` event (and its instances) that `pred` accepts.
const nextEvent = (client, type, pred) => new Promise((resolve) => {
  const listener = (event, instances) => {
    if (pred(event, instances)) {
      client.removeListener(type, listener);
      resolve([event, instances]);
    }
  };
  client.on(type, listener);
});

// Resolves once `channel` has left the application and been destroyed, with
// the cause of its ChannelDestroyed.
const ended = (client, channel) => {
  const end = nextEvent(client, 'StasisEnd', (e) => e.channel.id === channel.id);
  const destroyed = nextEvent(client, 'ChannelDestroyed', (e) => e.channel.id === channel.id);
  return Promise.all([end, destroyed]).then(([, [e]]) => ({ stasis_end: true, cause: e.cause }));
};

async function run(client, event, caller) {
  result.args = event.args;
  result.channel = caller.id;
  await caller.answer();
  const dtmf = new Promise((resolve) => caller.once('ChannelDtmfReceived', (e) => resolve(e.digit)));
  const playback = client.Playback();
  const finished = new Promise((resolve) => playback.once('PlaybackFinished', resolve));
  await caller.play({ media: 'sound:tone1k' }, playback);
  await finished;
  result.played = true;
  result.digit = await dtmf;

  // A second channel, to the phone registered as 1001, into this application.
  const calleeStart = nextEvent(client, 'StasisStart', (e) => (e.args || [])[0] === 'callee');
  const callee = client.Channel();
  await callee.originate({ endpoint: 'PJSIP/1001', app, appArgs: 'callee' });
  const [calleeEvent, calleeChannel] = await calleeStart;
  result.callee = callee.id;
  result.callee_args = calleeEvent.args;
  result.callee_stasis_id = calleeChannel.id;

  const bridge = client.Bridge();
  await bridge.create({ type: 'mixing' });
  result.bridge = bridge.id;
  const entered = [caller, callee].map((c) =>
    nextEvent(client, 'ChannelEnteredBridge', (e) => e.channel.id === c.id && e.bridge.id === bridge.id));
  await bridge.addChannel({ channel: [caller.id, callee.id] });
  await Promise.all(entered);
  console.log('BRIDGED');

  const recording = client.LiveRecording(RECORDING);
  const recStarted = new Promise((resolve) => recording.once('RecordingStarted', resolve));
  const recFinished = new Promise((resolve) => recording.once('RecordingFinished', (e) => resolve(e)));
  const live = await bridge.record({ format: 'wav' }, recording);
  result.recording = live.name;
  await recStarted;
  await sleep(3000);
  await recording.stop();
  const done = await recFinished;
  result.recording_state = done.recording.state;
  console.log('RECORDED');

  const endings = [ended(client, caller), ended(client, callee)];
  await caller.hangup();
  await callee.hangup();
  const [callerEnd, calleeEnd] = await Promise.all(endings);
  result.cause = callerEnd.cause;
  result.ended = { [caller.id]: callerEnd, [callee.id]: calleeEnd };
  await bridge.destroy();
  const stored = await client.recordings.getStored({ recordingName: RECORDING });
  result.stored = { name: stored.name, format: stored.format };
}

ari.connect(url, user, password).then((client) => {
  client.on('*', (event) => result.events.push(event.type));
  let started = false;
  client.on('StasisStart', (event, channel) => {
    if (started || (event.args || [])[0] === 'callee') {
      return;
    }
    started = true;
    run(client, event, channel).then(() => {
      console.log('RESULT ' + JSON.stringify(result));
      client.stop();
      process.exit(0);
    }).catch((e) => fail(e && e.stack || e));
  });
  return client.start(app);
}).then(() => console.log('READY')).catch(fail);
