//! Per-channel DTMF: every digit a channel receives waits in its own bounded buffer
//! until someone collects or flushes it (FreeSWITCH's `getDigits`/`flushDigits`), and
//! the typed requests that read it: [`CollectDigits`] and [`PlayAndCollect`]
//! (FreeSWITCH's `playAndGetDigits`, Asterisk's `Read`).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::switch::{ControlError, Switch};

/// Digits a channel keeps while nobody collects them; the oldest go first.
pub const DIGIT_BUFFER_CAPACITY: usize = 128;

/// An ordered, bounded digit buffer (sans-IO).
#[derive(Debug)]
pub struct DigitBuffer {
    digits: VecDeque<char>,
    capacity: usize,
}

impl Default for DigitBuffer {
    fn default() -> Self {
        Self::with_capacity(DIGIT_BUFFER_CAPACITY)
    }
}

impl DigitBuffer {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            digits: VecDeque::with_capacity(capacity),
            capacity: capacity.max(1),
        }
    }

    /// Adds a digit; returns the oldest one if it had to make room.
    pub fn push(&mut self, digit: char) -> Option<char> {
        let dropped = if self.digits.len() >= self.capacity {
            self.digits.pop_front()
        } else {
            None
        };
        self.digits.push_back(digit);
        dropped
    }

    pub fn pop(&mut self) -> Option<char> {
        self.digits.pop_front()
    }

    /// Drops every buffered digit; returns how many there were.
    pub fn flush(&mut self) -> usize {
        let n = self.digits.len();
        self.digits.clear();
        n
    }

    pub fn len(&self) -> usize {
        self.digits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.digits.is_empty()
    }
}

/// A channel's buffer with a wake-up for the task collecting from it.
#[derive(Debug, Default)]
pub(crate) struct DigitQueue {
    buffer: Mutex<DigitBuffer>,
    arrived: Notify,
}

impl DigitQueue {
    pub(crate) fn push(&self, channel: &str, digit: char) {
        if let Some(dropped) = crate::lock(&self.buffer).push(digit) {
            tracing::info!(channel, %dropped, "digit buffer full: oldest digit dropped");
        }
        // notify_one keeps a permit when nobody waits yet, so a digit pushed between a
        // collector's check and its wait still wakes it.
        self.arrived.notify_one();
    }

    fn pop(&self) -> Option<char> {
        crate::lock(&self.buffer).pop()
    }

    fn has_digits(&self) -> bool {
        !crate::lock(&self.buffer).is_empty()
    }

    pub(crate) fn flush(&self) -> usize {
        crate::lock(&self.buffer).flush()
    }
}

/// Collect digits from the channel's buffer (FreeSWITCH `session:getDigits`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectDigits {
    /// Stop after this many digits (at least 1).
    pub max: usize,
    /// Fewer digits than this before a terminator is [`CollectStatus::TooShort`].
    pub min: usize,
    /// Digits that end the collection (not part of the result), e.g. `"#"`.
    pub terminators: String,
    /// How long to wait for the first digit. As in FreeSWITCH, when only one of the
    /// two timeouts is given it applies to both; with neither, it waits for ever.
    pub first_timeout: Option<Duration>,
    /// How long to wait for each following digit.
    pub inter_digit_timeout: Option<Duration>,
}

impl Default for CollectDigits {
    fn default() -> Self {
        Self {
            max: 1,
            min: 0,
            terminators: String::new(),
            first_timeout: None,
            inter_digit_timeout: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectStatus {
    /// `max` digits, or a terminator after at least `min`.
    Ok,
    /// No digit came in time; `digits` holds those that did.
    Timeout,
    /// A terminator came before `min` digits.
    TooShort,
    /// The digits did not match the request's pattern (play-and-collect).
    NoMatch,
    /// The channel hung up.
    Hangup,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collected {
    pub digits: String,
    /// The terminator that ended the collection, if one did.
    pub terminator: Option<char>,
    pub status: CollectStatus,
}

/// One collection as a state machine: digits and the clock go in, the result comes out.
#[derive(Debug)]
pub struct Collector {
    request: CollectDigits,
    digits: String,
    deadline: Option<Instant>,
}

impl Collector {
    pub fn new(request: CollectDigits, now: Instant) -> Self {
        let first = request.first_timeout.or(request.inter_digit_timeout);
        Self {
            deadline: first.map(|t| now + t),
            request,
            digits: String::new(),
        }
    }

    /// When the collection times out, if it can.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Takes a digit; the result once the collection is complete.
    pub fn feed(&mut self, digit: char, now: Instant) -> Option<Collected> {
        if self.request.terminators.contains(digit) {
            let status = if self.digits.len() < self.request.min {
                CollectStatus::TooShort
            } else {
                CollectStatus::Ok
            };
            return Some(self.finish(Some(digit), status));
        }
        self.digits.push(digit);
        if self.digits.len() >= self.request.max {
            return Some(self.finish(None, CollectStatus::Ok));
        }
        let next = self
            .request
            .inter_digit_timeout
            .or(self.request.first_timeout);
        self.deadline = next.map(|t| now + t);
        None
    }

    /// The result when time ran out or the channel hung up.
    pub fn finish(&mut self, terminator: Option<char>, status: CollectStatus) -> Collected {
        Collected {
            digits: std::mem::take(&mut self.digits),
            terminator,
            status,
        }
    }
}

/// Prompt, collect, check and retry (FreeSWITCH `playAndGetDigits`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayAndCollect {
    /// Media URIs played in order; the first digit interrupts them.
    pub prompt: Vec<String>,
    /// Played after input that is too short or does not match `regex`.
    pub invalid: Option<String>,
    pub min: usize,
    pub max: usize,
    /// Attempts in all (at least 1).
    pub tries: u32,
    /// Wait for the first digit after the prompt.
    pub timeout: Duration,
    pub terminators: String,
    /// The digits must contain a match (FreeSWITCH uses PCRE's search: anchor with
    /// `^…$` for a whole match).
    pub regex: Option<String>,
    /// Set to the digits on success; `<variable>_invalid` gets rejected input.
    pub variable: Option<String>,
    /// Wait between digits; `timeout` when `None`.
    pub digit_timeout: Option<Duration>,
}

/// A digit pattern. `regex-automata` is already in the build (under
/// tracing-subscriber), so this adds no crate; ASCII-only, as digits are.
struct Pattern(regex_automata::meta::Regex);

impl Pattern {
    fn new(pattern: &str) -> Result<Self, ControlError> {
        let syntax = regex_automata::util::syntax::Config::new()
            .unicode(false)
            .utf8(false);
        regex_automata::meta::Regex::builder()
            .syntax(syntax)
            .build(pattern)
            .map(Self)
            .map_err(|e| ControlError::Invalid(format!("digit pattern {pattern:?}: {e}")))
    }

    fn matches(&self, digits: &str) -> bool {
        self.0.is_match(digits)
    }
}

impl Switch {
    /// Drops the digits buffered on a channel (FreeSWITCH `flushDigits`).
    pub fn flush_digits(&self, id: &str) -> Result<(), ControlError> {
        let channel = self.channel(id)?;
        let dropped = channel.digits.flush();
        tracing::debug!(channel = %channel.name, dropped, "digits flushed");
        Ok(())
    }

    /// Collects digits, starting with those already buffered.
    pub async fn collect_digits(
        &self,
        id: &str,
        request: CollectDigits,
    ) -> Result<Collected, ControlError> {
        let channel = self.channel(id)?;
        if request.max == 0 || request.min > request.max {
            return Err(ControlError::Invalid(format!(
                "digits: max {} must be at least 1 and at least min {}",
                request.max, request.min
            )));
        }
        Ok(collect_from(&channel.digits, request, channel.hung_up()).await)
    }

    /// Plays the prompt (the first digit, buffered or new, stops it), collects, checks
    /// length and pattern, and retries after the invalid prompt up to `tries` times. On
    /// success the variable is set; otherwise the digits are empty and the status says
    /// why the last attempt failed.
    pub async fn play_and_collect(
        &self,
        id: &str,
        request: PlayAndCollect,
    ) -> Result<Collected, ControlError> {
        let channel = self.channel(id)?;
        let pattern = request.regex.as_deref().map(Pattern::new).transpose()?;
        let collect = CollectDigits {
            max: request.max,
            min: request.min,
            terminators: request.terminators.clone(),
            first_timeout: Some(request.timeout),
            inter_digit_timeout: Some(request.digit_timeout.unwrap_or(request.timeout)),
        };
        let mut last = CollectStatus::Timeout;
        for attempt in 1..=request.tries.max(1) {
            if !request.prompt.is_empty() {
                let prompt = self.play(crate::Play::channel(id, request.prompt.clone()))?;
                let _stop = StopOnDrop(self, &prompt.id);
                tokio::select! {
                    () = prompt.wait() => {}
                    () = wait_for_digit(&channel.digits) => {
                        let _ = self.stop_playback(&prompt.id);
                    }
                    _ = channel.hung_up() => {}
                }
            }
            let mut got = self.collect_digits(id, collect.clone()).await?;
            // As FreeSWITCH: digits that timed out are fine once there are enough.
            if got.status == CollectStatus::Timeout
                && !got.digits.is_empty()
                && got.digits.len() >= request.min
            {
                got.status = CollectStatus::Ok;
            }
            if got.status == CollectStatus::Ok && got.digits.is_empty() {
                // A bare terminator with nothing required is an answer: no digits.
                if got.terminator.is_some() && request.min == 0 {
                    return Ok(got);
                }
                got.status = CollectStatus::Timeout;
            }
            if got.status == CollectStatus::Ok {
                if pattern.as_ref().is_none_or(|p| p.matches(&got.digits)) {
                    if let Some(variable) = &request.variable {
                        self.set_var(id, variable, &got.digits)?;
                    }
                    return Ok(got);
                }
                got.status = CollectStatus::NoMatch;
                if let Some(variable) = &request.variable {
                    self.set_var(id, &format!("{variable}_invalid"), &got.digits)?;
                }
            }
            last = got.status;
            if last == CollectStatus::Hangup {
                break;
            }
            tracing::debug!(channel = %channel.name, attempt, status = ?last, "invalid input");
            if let Some(invalid) = &request.invalid {
                let invalid = self.play(crate::Play::channel(id, vec![invalid.clone()]))?;
                let _stop = StopOnDrop(self, &invalid.id);
                invalid.wait().await;
            }
        }
        Ok(Collected {
            digits: String::new(),
            terminator: None,
            status: last,
        })
    }
}

/// Stops a prompt when dropped: a collection interrupted (transfer, break, a face that
/// gave up) leaves nothing playing.
struct StopOnDrop<'a>(&'a Switch, &'a str);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        // Already finished is fine: then there is nothing to stop.
        let _ = self.0.stop_playback(self.1);
    }
}

/// Collects from `queue` until the request is met, time runs out or `hung_up`
/// resolves.
async fn collect_from<T>(
    queue: &DigitQueue,
    request: CollectDigits,
    hung_up: impl std::future::Future<Output = T>,
) -> Collected {
    let mut collector = Collector::new(request, Instant::now());
    tokio::pin!(hung_up);
    loop {
        let arrived = queue.arrived.notified();
        if let Some(digit) = queue.pop() {
            if let Some(done) = collector.feed(digit, Instant::now()) {
                return done;
            }
            continue;
        }
        let deadline = collector.deadline();
        let timeout = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = arrived => {}
            () = timeout => return collector.finish(None, CollectStatus::Timeout),
            _ = &mut hung_up => return collector.finish(None, CollectStatus::Hangup),
        }
    }
}

/// Resolves once the queue holds a digit (leaving it there).
async fn wait_for_digit(queue: &DigitQueue) {
    loop {
        let arrived = queue.arrived.notified();
        if queue.has_digits() {
            return;
        }
        arrived.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(max: usize, terminators: &str) -> CollectDigits {
        CollectDigits {
            max,
            terminators: terminators.into(),
            ..CollectDigits::default()
        }
    }

    #[test]
    fn buffer_keeps_order_and_drops_the_oldest_when_full() {
        let mut buffer = DigitBuffer::with_capacity(3);
        for d in ['1', '2', '3'] {
            assert_eq!(buffer.push(d), None);
        }
        assert_eq!(buffer.push('4'), Some('1'));
        assert_eq!(buffer.pop(), Some('2'));
        assert_eq!(buffer.flush(), 2);
        assert!(buffer.is_empty());
        assert_eq!(buffer.pop(), None);
    }

    #[test]
    fn terminator_ends_without_being_collected() {
        let now = Instant::now();
        let mut c = Collector::new(request(10, "#*"), now);
        assert_eq!(c.feed('1', now), None);
        assert_eq!(c.feed('2', now), None);
        let done = c.feed('*', now).unwrap();
        assert_eq!(
            done,
            Collected {
                digits: "12".into(),
                terminator: Some('*'),
                status: CollectStatus::Ok
            }
        );
    }

    #[test]
    fn max_ends_and_min_is_checked_at_the_terminator() {
        let now = Instant::now();
        let mut c = Collector::new(request(2, ""), now);
        assert_eq!(c.feed('1', now), None);
        assert_eq!(c.feed('2', now).unwrap().status, CollectStatus::Ok);
        let short = CollectDigits {
            min: 3,
            ..request(5, "#")
        };
        let mut c = Collector::new(short, now);
        c.feed('1', now);
        let done = c.feed('#', now).unwrap();
        assert_eq!(
            (done.digits.as_str(), done.status),
            ("1", CollectStatus::TooShort)
        );
    }

    #[test]
    fn timeouts_fall_back_on_each_other_as_in_freeswitch() {
        let now = Instant::now();
        let s = Duration::from_secs;
        let both = CollectDigits {
            first_timeout: Some(s(5)),
            inter_digit_timeout: Some(s(2)),
            ..request(4, "")
        };
        let mut c = Collector::new(both, now);
        assert_eq!(c.deadline(), Some(now + s(5)));
        c.feed('1', now + s(1));
        assert_eq!(c.deadline(), Some(now + s(3)));
        let only_first = CollectDigits {
            first_timeout: Some(s(5)),
            ..request(4, "")
        };
        let mut c = Collector::new(only_first, now);
        c.feed('1', now);
        assert_eq!(c.deadline(), Some(now + s(5)));
        let only_inter = CollectDigits {
            inter_digit_timeout: Some(s(2)),
            ..request(4, "")
        };
        assert_eq!(Collector::new(only_inter, now).deadline(), Some(now + s(2)));
        assert_eq!(Collector::new(request(4, ""), now).deadline(), None);
    }

    #[test]
    fn patterns_search_like_pcre_and_bad_ones_are_refused() {
        let any = Pattern::new(r"\d+").unwrap();
        assert!(any.matches("123"));
        assert!(!any.matches("#"));
        let one_or_two = Pattern::new("^[12]$").unwrap();
        assert!(one_or_two.matches("2"));
        assert!(!one_or_two.matches("21"));
        assert!(matches!(Pattern::new("(12"), Err(ControlError::Invalid(_))));
    }

    async fn collect(queue: &DigitQueue, request: CollectDigits) -> Collected {
        collect_from(queue, request, std::future::pending::<()>()).await
    }

    #[tokio::test(start_paused = true)]
    async fn digits_buffered_before_the_collection_are_read_first() {
        let queue = DigitQueue::default();
        for d in "12#9".chars() {
            queue.push("test", d);
        }
        let done = collect(&queue, request(10, "#")).await;
        assert_eq!((done.digits.as_str(), done.terminator), ("12", Some('#')));
        assert_eq!(queue.pop(), Some('9'), "what follows the terminator stays");
    }

    #[tokio::test(start_paused = true)]
    async fn flushed_digits_are_not_collected() {
        let queue = DigitQueue::default();
        queue.push("test", '1');
        queue.flush();
        queue.push("test", '2');
        let done = collect(&queue, request(1, "")).await;
        assert_eq!(done.digits, "2");
    }

    #[tokio::test(start_paused = true)]
    async fn first_and_inter_digit_timeouts() {
        let s = Duration::from_secs;
        let timed = CollectDigits {
            first_timeout: Some(s(5)),
            inter_digit_timeout: Some(s(2)),
            ..request(4, "")
        };
        let queue = std::sync::Arc::new(DigitQueue::default());
        // Nothing at all: the first timeout.
        let start = Instant::now();
        let done = collect(&queue, timed.clone()).await;
        assert_eq!(done.status, CollectStatus::Timeout);
        assert_eq!(start.elapsed(), s(5));
        // A digit after 4 s (within the first timeout), then none: 2 s later it ends.
        let start = Instant::now();
        let feeder = queue.clone();
        tokio::spawn(async move {
            tokio::time::sleep(s(4)).await;
            feeder.push("test", '7');
        });
        let done = collect(&queue, timed).await;
        assert_eq!(
            (done.digits.as_str(), done.status),
            ("7", CollectStatus::Timeout)
        );
        assert_eq!(start.elapsed(), s(6));
    }

    fn pin_request() -> PlayAndCollect {
        PlayAndCollect {
            prompt: vec!["silence:5000".into()],
            invalid: Some("silence:50".into()),
            min: 1,
            max: 4,
            tries: 2,
            timeout: Duration::from_millis(300),
            terminators: "#".into(),
            regex: Some("^12$".into()),
            variable: Some("PIN".into()),
            digit_timeout: None,
        }
    }

    #[tokio::test]
    async fn digits_sent_to_one_local_half_are_collected_on_the_other() {
        let (switch, near) = crate::testing::switch_with_channel("local-dtmf").await;
        let far = near
            .data()
            .local_peer
            .clone()
            .expect("a Local pair knows its other half");
        switch
            .send_dtmf(&near.id, "12#", 40, 10)
            .await
            .expect("digits sent");
        let done = switch
            .collect_digits(&far, request(5, "#"))
            .await
            .expect("the other half collects");
        assert_eq!((done.digits.as_str(), done.terminator), ("12", Some('#')));
    }

    #[tokio::test]
    async fn a_buffered_digit_cuts_the_prompt_and_bad_input_is_retried() {
        let (switch, channel) = crate::testing::switch_with_channel("play-and-collect").await;
        // Typed ahead, before the prompt: a wrong answer, then the right one.
        for d in "3#12#".chars() {
            channel.digits.push(&channel.id, d);
        }
        let started = std::time::Instant::now();
        let got = switch
            .play_and_collect(&channel.id, pin_request())
            .await
            .unwrap();
        assert_eq!(
            (got.digits.as_str(), got.status, got.terminator),
            ("12", CollectStatus::Ok, Some('#'))
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the 5 s prompt should be cut by the digits: {:?}",
            started.elapsed()
        );
        assert_eq!(channel.var("PIN").as_deref(), Some("12"));
        assert_eq!(channel.var("PIN_invalid").as_deref(), Some("3"));
    }

    #[tokio::test]
    async fn play_and_collect_gives_up_after_its_tries() {
        let (switch, channel) = crate::testing::switch_with_channel("play-and-collect-fails").await;
        channel.digits.push(&channel.id, '9');
        channel.digits.push(&channel.id, '#');
        let request = PlayAndCollect {
            prompt: Vec::new(),
            ..pin_request()
        };
        let got = switch.play_and_collect(&channel.id, request).await.unwrap();
        // The first try does not match, the second hears nothing.
        assert_eq!(
            (got.digits.as_str(), got.status),
            ("", CollectStatus::Timeout)
        );
        assert_eq!(channel.var("PIN"), None);
        let bad = PlayAndCollect {
            regex: Some("(".into()),
            ..pin_request()
        };
        assert!(matches!(
            switch.play_and_collect(&channel.id, bad).await,
            Err(ControlError::Invalid(_))
        ));
    }

    #[tokio::test]
    async fn a_dropped_play_and_collect_stops_its_prompt() {
        let (switch, channel) =
            crate::testing::switch_with_channel("play-and-collect-dropped").await;
        let mut events = switch.channel_events(&channel.id).unwrap();
        let request = PlayAndCollect {
            prompt: vec!["tone:440/60000".into()],
            ..pin_request()
        };
        let collecting = switch.play_and_collect(&channel.id, request);
        let dropped = tokio::time::timeout(Duration::from_millis(200), collecting).await;
        assert!(dropped.is_err(), "still collecting when dropped");
        let finished = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(event) = events.recv().await {
                if let crate::ChannelEvent::Event(e) = event {
                    if matches!(e.kind, crate::EventKind::PlaybackFinished { .. }) {
                        return true;
                    }
                }
            }
            false
        })
        .await;
        assert_eq!(finished, Ok(true), "the prompt stops with the collection");
    }

    #[tokio::test]
    async fn collecting_ends_at_hangup_and_channel_events_end_with_the_channel() {
        let (switch, channel) = crate::testing::switch_with_channel("collect-hangup").await;
        let mut events = switch.channel_events(&channel.id).unwrap();
        let collecting = {
            let switch = switch.clone();
            let id = channel.id.clone();
            tokio::spawn(async move { switch.collect_digits(&id, CollectDigits::default()).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        switch.hangup(&channel.id, crate::Cause::NORMAL_CLEARING);
        let got = collecting.await.unwrap().unwrap();
        assert_eq!(got.status, CollectStatus::Hangup);
        let mut last = None;
        while let Some(event) = events.recv().await {
            match event {
                crate::ChannelEvent::Event(e) => {
                    assert_eq!(e.source, channel.id, "only the channel's own events");
                    last = Some(e.kind.clone());
                }
                crate::ChannelEvent::Lagged(n) => panic!("lagged by {n}"),
            }
        }
        assert!(
            matches!(last, Some(crate::EventKind::ChannelDestroyed { .. })),
            "the stream ends with ChannelDestroyed: {last:?}"
        );
        assert_eq!(
            switch.channel_events(&channel.id).err(),
            Some(ControlError::NotFound)
        );
    }
}
