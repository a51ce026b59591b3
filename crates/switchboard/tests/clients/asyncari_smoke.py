"""Smoke test of Python asyncari against switchboard: connect (asyncari loads
and validates the api-docs strictly), then for the first call into the
application: StasisStart with args, answer, play sound:tone1k to the end, wait
for a DTMF digit, originate a second channel to PJSIP/1001 into the
application, bridge the two in a mixing bridge, record the bridge for about
3 s, hang both up and see their StasisEnd and ChannelDestroyed.

Usage: asyncari_smoke.py <http://host:port> <user> <password> <app>
Prints READY once connected, BRIDGED once both channels are in the bridge,
RECORDED once the recording has finished (before the hangups) and
RESULT <json> at the end; exits 0 on success.
"""
import json
import sys

import anyio
import asyncari

URL, USER, PASSWORD, APP = sys.argv[1:5]
RECORDING = "smoke-py"


class Events:
    """The application's events in order; `wait` takes the first one not
    taken yet that matches, reading more as needed."""

    def __init__(self, client, result):
        self.stream = client.__aiter__()
        self.seen = []
        self.taken = set()
        self.result = result

    async def wait(self, kind, pred=lambda e: True):
        i = 0
        while True:
            while i < len(self.seen):
                event = self.seen[i]
                if i not in self.taken and event["type"] == kind and pred(event):
                    self.taken.add(i)
                    return event
                i += 1
            event = await self.stream.__anext__()
            self.result["events"].append(event["type"])
            self.seen.append(event)


def on_channel(channel_id):
    return lambda e: e["channel"]["id"] == channel_id


result = {"client": "asyncari", "events": []}


async def main():
    with anyio.fail_after(40):
        async with asyncari.connect(URL + "/", APP, USER, PASSWORD) as client:
            events = Events(client, result)
            print("READY", flush=True)
            start = await events.wait("StasisStart")
            caller = start["channel"]["id"]
            result["args"] = start["args"]
            result["channel"] = caller
            await client.channels.answer(channelId=caller)
            await client.channels.play(channelId=caller, media="sound:tone1k", playbackId="asyncari-pb")
            finished = await events.wait("PlaybackFinished")
            result["played"] = finished["playback"]["id"] == "asyncari-pb"
            dtmf = await events.wait("ChannelDtmfReceived", on_channel(caller))
            result["digit"] = dtmf["digit"]

            # A second channel, to the phone registered as 1001, into this application.
            callee = await client.channels.originate(endpoint="PJSIP/1001", app=APP, appArgs="callee")
            result["callee"] = callee.id
            callee_start = await events.wait("StasisStart", on_channel(callee.id))
            result["callee_args"] = callee_start["args"]
            result["callee_stasis_id"] = callee_start["channel"]["id"]

            bridge = await client.bridges.create(type="mixing")
            result["bridge"] = bridge.id
            await bridge.addChannel(channel=",".join([caller, callee.id]))
            for channel_id in (caller, callee.id):
                await events.wait(
                    "ChannelEnteredBridge",
                    lambda e, c=channel_id: e["channel"]["id"] == c and e["bridge"]["id"] == bridge.id,
                )
            print("BRIDGED", flush=True)

            recording = await bridge.record(name=RECORDING, format="wav")
            result["recording"] = recording.id
            await events.wait("RecordingStarted", lambda e: e["recording"]["name"] == RECORDING)
            await anyio.sleep(3)
            await client.recordings.stop(recordingName=RECORDING)
            done = await events.wait("RecordingFinished", lambda e: e["recording"]["name"] == RECORDING)
            result["recording_state"] = done["recording"]["state"]
            print("RECORDED", flush=True)

            await client.channels.hangup(channelId=caller)
            await callee.hangup()
            result["ended"] = {}
            for channel_id in (caller, callee.id):
                await events.wait("StasisEnd", on_channel(channel_id))
                destroyed = await events.wait("ChannelDestroyed", on_channel(channel_id))
                result["ended"][channel_id] = {"stasis_end": True, "cause": destroyed["cause"]}
            result["cause"] = result["ended"][caller]["cause"]
            await bridge.destroy()
            stored = await client.recordings.getStored(recordingName=RECORDING)
            result["stored"] = {"name": stored.json["name"], "format": stored.json["format"]}
    print("RESULT " + json.dumps(result), flush=True)


try:
    anyio.run(main)
except Exception as e:  # noqa: BLE001 - report whatever broke
    result["error"] = repr(e)
    print("RESULT " + json.dumps(result), flush=True)
    sys.exit(1)
