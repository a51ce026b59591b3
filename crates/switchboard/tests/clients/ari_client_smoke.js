// Smoke test of npm ari-client against switchboard: connect (the client builds
// itself from the api-docs), then for the first call into the application:
// StasisStart with args, answer, play sound:tone1k to the end, wait for a DTMF
// digit, hang up, see StasisEnd and ChannelDestroyed.
// Usage: node ari_client_smoke.js <http://host:port> <user> <password> <app>
// Prints READY once connected and RESULT <json> at the end; exits 0 on success.
'use strict';
const ari = require('ari-client');

const [url, user, password, app] = process.argv.slice(2);
const result = { client: 'ari-client', events: [] };
const fail = (why) => {
  console.log('RESULT ' + JSON.stringify(Object.assign(result, { error: String(why) })));
  process.exit(1);
};
setTimeout(() => fail('timeout'), 40000);

ari.connect(url, user, password).then((client) => {
  client.on('*', (event) => result.events.push(event.type));
  client.on('StasisStart', async (event, channel) => {
    try {
      result.args = event.args;
      result.channel = channel.id;
      await channel.answer();
      const dtmf = new Promise((resolve) => channel.once('ChannelDtmfReceived', (e) => resolve(e.digit)));
      const playback = client.Playback();
      const finished = new Promise((resolve) => playback.once('PlaybackFinished', resolve));
      await channel.play({ media: 'sound:tone1k' }, playback);
      await finished;
      result.played = true;
      result.digit = await dtmf;
      const destroyed = new Promise((resolve) => channel.once('ChannelDestroyed', (e) => resolve(e.cause)));
      await channel.hangup();
      result.cause = await destroyed;
      console.log('RESULT ' + JSON.stringify(result));
      client.stop();
      process.exit(0);
    } catch (e) {
      fail(e && e.stack || e);
    }
  });
  return client.start(app);
}).then(() => console.log('READY')).catch(fail);
