// bench/ari_events.js <base url> <user:password> <endpoint> <events/s> <secs>
//
// WebSocket event latency: an ARI application listens on /ari/events, originates a
// channel to <endpoint> into itself, and once it is in Stasis sets channel variables
// on it at <events/s> over keep-alive HTTP; each ChannelVarset is matched to its POST
// by value, and the time from sending the POST to the event's arrival is the latency
// (so it includes the request's own handling). Prints one line:
//   events sent=<n> received=<n> rate=<achieved/s> p50_ms=<..> p99_ms=<..> max_ms=<..>
// Uses the `ws` package the ARI client tests install (tests/clients/node_modules).
'use strict';
const http = require('http');
const path = require('path');
const WebSocket = require(path.join(__dirname, '../crates/switchboard/tests/clients/node_modules/ws'));

const [base, credentials, endpoint, rateArg, secsArg] = process.argv.slice(2);
if (!base || !credentials || !endpoint) {
    console.error('usage: ari_events.js <base url> <user:password> <endpoint> [events/s] [secs]');
    process.exit(64);
}
const rate = Number(rateArg || 1000);
const secs = Number(secsArg || 10);
const url = new URL(base);
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
const auth = 'Basic ' + Buffer.from(credentials).toString('base64');
const sentAt = new Map();
const latencies = [];
// Arrival less the event's own timestamp (the server's clock at the event, 1 ms
// resolution): the bus-to-socket part alone, without the request.
const sinceStamp = [];
let sent = 0;
let failed = 0;
let channel = null;
const APP = 'bench-events';

const wsUrl = `ws://${url.host}${url.pathname}/events?app=${APP}&api_key=${encodeURIComponent(credentials)}`;
const ws = new WebSocket(wsUrl);
ws.on('message', (data) => {
    const now = process.hrtime.bigint();
    let event;
    try {
        event = JSON.parse(data);
    } catch (e) {
        return;
    }
    if (event.type === 'StasisStart' && channel === null) {
        channel = event.channel.id;
        start();
        return;
    }
    if (event.type !== 'ChannelVarset' || event.variable !== 'BENCH_SEQ') return;
    const at = sentAt.get(event.value);
    if (at === undefined) return;
    sentAt.delete(event.value);
    latencies.push(Number(now - at) / 1e6);
    const stamp = Date.parse(String(event.timestamp).replace(/([+-]\d\d)(\d\d)$/, '$1:$2'));
    if (!Number.isNaN(stamp)) sinceStamp.push(Date.now() - stamp);
});
ws.on('error', (e) => {
    console.error(`bench/ari_events: WebSocket: ${e.message}`);
    process.exit(1);
});

function request(method, pathAndQuery, done) {
    const req = http.request({
        agent,
        host: url.hostname,
        port: url.port,
        method,
        path: `${url.pathname}${pathAndQuery}`,
        headers: { Authorization: auth },
    }, (res) => {
        res.resume();
        done(res.statusCode);
    });
    req.on('error', () => done(0));
    req.end();
}

function setVariable(seq) {
    const value = String(seq);
    sentAt.set(value, process.hrtime.bigint());
    request('POST', `/channels/${encodeURIComponent(channel)}/variable?variable=BENCH_SEQ&value=${value}`, (status) => {
        if (status !== 204) failed++;
    });
    sent++;
}

ws.on('open', () => {
    request('POST', `/channels?endpoint=${encodeURIComponent(endpoint)}&app=${APP}`, (status) => {
        if (status !== 200) {
            console.error(`bench/ari_events: originate to ${endpoint} answered ${status}`);
            process.exit(1);
        }
    });
});

function start() {
    const started = process.hrtime.bigint();
    // Paced every millisecond against the clock, so a late timer catches up.
    const timer = setInterval(() => {
        const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
        if (elapsed >= secs) {
            clearInterval(timer);
            // Events still on their way get half a second.
            setTimeout(report, 500, elapsed);
            return;
        }
        const due = Math.floor(elapsed * rate);
        while (sent < due) setVariable(sent);
    }, 1);
}

function quantile(values, p) {
    if (!values.length) return 'nan';
    return values[Math.min(values.length - 1, Math.floor(p * values.length))].toFixed(2);
}

function report(elapsed) {
    latencies.sort((a, b) => a - b);
    sinceStamp.sort((a, b) => a - b);
    console.log(`events sent=${sent} received=${latencies.length} failed=${failed} rate=${(sent / elapsed).toFixed(0)} p50_ms=${quantile(latencies, 0.5)} p99_ms=${quantile(latencies, 0.99)} max_ms=${quantile(latencies, 1)} stamp_p50_ms=${quantile(sinceStamp, 0.5)} stamp_p99_ms=${quantile(sinceStamp, 0.99)}`);
    request('DELETE', `/channels/${encodeURIComponent(channel)}`, () => {
        ws.close();
        agent.destroy();
        process.exit(0);
    });
}
