"""Smoke test of Python asyncari against switchboard: connect (asyncari loads
and validates the api-docs strictly), then for the first call into the
application: StasisStart with args, answer, play sound:tone1k to the end, wait
for a DTMF digit, hang up, see StasisEnd and ChannelDestroyed.

Usage: asyncari_smoke.py <http://host:port> <user> <password> <app>
Prints READY once connected and RESULT <json> at the end; exits 0 on success.
"""
import json
import sys

import anyio
import asyncari

URL, USER, PASSWORD, APP = sys.argv[1:5]


async def main():
    result = {"client": "asyncari", "events": []}
    with anyio.fail_after(40):
        async with asyncari.connect(URL + "/", APP, USER, PASSWORD) as client:
            print("READY", flush=True)
            channel_id = None
            async for event in client:
                result["events"].append(event["type"])
                if event["type"] == "StasisStart" and channel_id is None:
                    channel_id = event["channel"]["id"]
                    result["args"] = event["args"]
                    result["channel"] = channel_id
                    await client.channels.answer(channelId=channel_id)
                    await client.channels.play(channelId=channel_id, media="sound:tone1k", playbackId="asyncari-pb")
                elif event["type"] == "PlaybackFinished":
                    result["played"] = event["playback"]["id"] == "asyncari-pb"
                    if "digit" in result:
                        await client.channels.hangup(channelId=channel_id)
                elif event["type"] == "ChannelDtmfReceived":
                    result["digit"] = event["digit"]
                    if result.get("played"):
                        await client.channels.hangup(channelId=channel_id)
                elif event["type"] == "ChannelDestroyed":
                    result["cause"] = event["cause"]
                    break
    print("RESULT " + json.dumps(result), flush=True)


try:
    anyio.run(main)
except Exception as e:  # noqa: BLE001 - report whatever broke
    print("RESULT " + json.dumps({"client": "asyncari", "error": repr(e)}), flush=True)
    sys.exit(1)
