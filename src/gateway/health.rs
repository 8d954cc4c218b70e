//! Origin health, from two sources.
//!
//! - **Passive**, per worker instance: `HEALTH_FAILURES` connection failures in a row (no
//!   answer in between; no answer within `ORIGIN_TIMEOUT_MS`, when set, is one too, but never
//!   against the last origin up) mark the origin down for `HEALTH_DOWN_SECONDS`. Any answer,
//!   whatever its status, is the origin talking: a client that finds a path answering 503
//!   (nginx's rate limit does) cannot take the origin out for others. Only a request's first try counts, and
//!   only without a body (see [`Gateway::retry`](super::Gateway::retry)).
//! - **Shared**: the cron trigger probes every origin's health path and writes a [`Snapshot`]
//!   to KV under [`KV_KEY`]; every instance, at every location, reads it (at most every
//!   `HEALTH_CACHE_SECONDS`). A snapshot older than `HEALTH_MAX_AGE_SECONDS` (or dated that much
//!   ahead) is ignored, so a stopped cron cannot keep an origin out forever.
//!
//! An origin takes traffic when neither source says it is down, with one exception: when that
//! would leave no origin taking traffic, although this instance's own requests still reach some
//! (passively up), the shared snapshot is set aside and every origin passively up takes traffic
//! ([`HealthBook::failing_open`]: "fail open", as load balancers do when every target fails its
//! health check). A wrong `HEALTH_PATH` (a 404 or a redirect on every origin), or a WAF or rate
//! limit that blocks the probes, marks every origin down at every location after one cron run;
//! without this the whole site would answer 503 while the origins serve fine. Origins truly down
//! then fail their first tries and are marked passively, and once every origin is, the answer is
//! the 503 "all origins are down".

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

use super::config::{GatewayConfig, Origin};
use crate::json;
use crate::time::UnixTime;

/// The KV namespace binding that holds the shared snapshot.
pub const KV_BINDING: &str = "EDGE_HEALTH";

/// The KV key of the shared snapshot.
pub const KV_KEY: &str = "health:v1";

/// What the cron trigger probes: each origin's id and the URL of its health path.
pub fn probe_targets(config: &GatewayConfig) -> Vec<(String, String)> {
    config
        .origins
        .iter()
        .map(|o| (o.id.clone(), format!("{}{}", o.url, config.health_path)))
        .collect()
}

/// One origin's probe result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Probe {
    /// 2xx within the timeout.
    pub healthy: bool,
    /// The status answered, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why the probe failed without a status (connection refused, timeout...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Round trip, milliseconds.
    #[serde(default)]
    pub ms: u64,
}

impl Probe {
    /// A probe that got an answer.
    pub fn answered(status: u16, ms: u64) -> Self {
        Probe {
            healthy: (200..300).contains(&status),
            status: Some(status),
            error: None,
            ms,
        }
    }

    /// A probe that got no answer; `error` is cut to 200 bytes.
    pub fn failed(error: &str, ms: u64) -> Self {
        let mut end = error.len().min(200);
        while !error.is_char_boundary(end) {
            end -= 1;
        }
        Probe {
            healthy: false,
            status: None,
            error: Some(error[..end].to_owned()),
            ms,
        }
    }

    /// A probe as [`Snapshot::parse`] reads it: `healthy` required, `status` and `error`
    /// optional (or `null`), `ms` 0 when missing.
    fn parse(text: &str) -> Option<Self> {
        let members = json::members(text).ok()?;
        Some(Probe {
            healthy: json::boolean(json::get(&members, "healthy")?)?,
            status: json::optional(&members, "status", |v| u16::try_from(json::whole(v)?).ok())?,
            error: json::optional(&members, "error", json::owned_string)?,
            ms: match json::get(&members, "ms") {
                Some(v) => json::whole(v)?,
                None => 0,
            },
        })
    }
}

/// What the cron trigger writes to KV: every origin's last probe.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// When the probes ran, seconds since the Unix epoch.
    pub checked_at: UnixTime,
    /// Probe results by origin id.
    pub origins: BTreeMap<String, Probe>,
}

impl Snapshot {
    /// Reads a snapshot from KV text; `None` for anything unreadable (treated as no snapshot).
    /// The crate's own JSON reader rather than a serde derive (about 1,800 B less gzipped
    /// wasm): members of the types serde would take, unknown ones read past, but an object
    /// with a member named twice is unreadable (a snapshot is written from a map, never so).
    pub fn parse(text: &str) -> Option<Self> {
        let members = json::members(text).ok()?;
        let mut snapshot = Snapshot {
            checked_at: json::whole(json::get(&members, "checked_at")?)?,
            origins: BTreeMap::new(),
        };
        // Inserted one by one: collecting into the map would bring a sort into the wasm.
        for (id, probe) in json::members(json::get(&members, "origins")?).ok()? {
            snapshot
                .origins
                .insert(id.into_owned(), Probe::parse(probe)?);
        }
        Some(snapshot)
    }

    /// The text written to KV.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The ids of the origins whose probe failed (for the cron's log line).
    pub fn down(&self) -> Vec<&str> {
        self.origins
            .iter()
            .filter(|(_, p)| !p.healthy)
            .map(|(id, _)| id.as_str())
            .collect()
    }

    /// Whether this result is worth a KV write, given the one stored: when what a reader takes
    /// from it for an origin this one probed changed, or the stored one is past half of
    /// `max_age`. KV writes are scarce (1,000 a day on the free plan), so a cron every minute
    /// writes about every `max_age / 2` when nothing changes. A reader takes an origin a
    /// snapshot does not name for up ([`HealthBook::set_shared`]) and ignores origins it does
    /// not route to, so an origin missing from the stored one changes something only when it is
    /// down, and one only the stored one has (removed from `ORIGINS`) nothing: while a deploy
    /// that changes `ORIGINS` spreads, two versions probing other origins each wrote over the
    /// other's at every run.
    pub fn worth_writing(&self, stored: Option<&Snapshot>, max_age: u64) -> bool {
        stored.is_none_or(|old| {
            let up = |s: &Snapshot, id: &str| s.origins.get(id).is_none_or(|p| p.healthy);
            let changed = (self.origins.keys()).any(|id| up(old, id) != up(self, id));
            // `abs_diff`: a stored one from the future (a corrupt entry, a clock far ahead) is
            // written over too, not kept until the health changes.
            changed || self.checked_at.abs_diff(old.checked_at) >= max_age / 2
        })
    }
}

/// One worker instance's view of origin health.
#[derive(Clone, Debug)]
pub struct HealthBook {
    ids: Vec<String>,
    /// Passive marks: down until this time, by origin index.
    down_until: Vec<Option<UnixTime>>,
    /// Connection failures in a row and when the last one was, by origin index.
    streaks: Vec<(u32, UnixTime)>,
    failures_to_mark: u32,
    shared: Option<Snapshot>,
    /// By origin index: marked down by `shared` (fresh or not), found once when it is installed,
    /// so the question asked of every origin on every request is no search of the snapshot.
    shared_down: Vec<bool>,
    /// The time from which some origin is up by the passive rule: the earliest end of the
    /// origins' passive marks, 0 for an origin never marked (`UnixTime::MAX` without origins).
    passive_back_at: UnixTime,
    /// The same among the origins `shared` does not mark down: from then on some origin is up by
    /// both sources (`UnixTime::MAX` when it marks every origin down). These two make
    /// [`HealthBook::failing_open`] O(1); marks and snapshots, which change them, are rare.
    both_back_at: UnixTime,
    /// This instance was failing open when last asked by [`HealthBook::began_failing_open`].
    failing_open_noted: bool,
    shared_read_at: Option<UnixTime>,
    down_seconds: u64,
    max_age: u64,
    cache_seconds: u64,
}

impl HealthBook {
    /// Every origin up, no shared snapshot yet.
    pub fn new(config: &GatewayConfig) -> Self {
        let mut book = HealthBook {
            ids: config.origins.iter().map(|o| o.id.clone()).collect(),
            down_until: vec![None; config.origins.len()],
            streaks: vec![(0, 0); config.origins.len()],
            failures_to_mark: config.health_failures,
            shared: None,
            shared_down: vec![false; config.origins.len()],
            passive_back_at: 0,
            both_back_at: 0,
            failing_open_noted: false,
            shared_read_at: None,
            down_seconds: config.down_seconds,
            max_age: config.health_max_age,
            cache_seconds: config.health_cache_seconds,
        };
        book.recount();
        book
    }

    fn index(&self, id: &str) -> Option<usize> {
        self.ids.iter().position(|i| i == id)
    }

    /// Marks an origin down for the configured time; true when it was up before (worth a log).
    pub fn mark_down(&mut self, id: &str, now: UnixTime) -> bool {
        let was_up = self.passive_up(id, now);
        let until = now.saturating_add(self.down_seconds);
        match self.index(id).and_then(|i| self.down_until.get_mut(i)) {
            Some(slot) => {
                *slot = Some(until);
                self.recount();
                was_up
            }
            None => false,
        }
    }

    /// Finds `passive_back_at` and `both_back_at` again: after a passive mark, a new snapshot.
    fn recount(&mut self) {
        let (mut passive, mut both) = (UnixTime::MAX, UnixTime::MAX);
        for (until, shared_down) in self.down_until.iter().zip(&self.shared_down) {
            let back = until.unwrap_or(0);
            passive = passive.min(back);
            if !shared_down {
                both = both.min(back);
            }
        }
        (self.passive_back_at, self.both_back_at) = (passive, both);
    }

    /// A connection to the origin failed: counts it, and marks the origin down once
    /// `HEALTH_FAILURES` failures came in a row within `HEALTH_DOWN_SECONDS` of each other (a
    /// streak: the mark ends it). True when this failure marked it down (worth a log).
    pub fn failed(&mut self, id: &str, now: UnixTime) -> bool {
        let window = self.down_seconds;
        let Some(streak) = self.index(id).and_then(|i| self.streaks.get_mut(i)) else {
            return false;
        };
        let count = if now > streak.1.saturating_add(window) {
            1
        } else {
            streak.0.saturating_add(1)
        };
        // A mark ends the streak that made it: once it expires, the next failure starts anew.
        let marks = count >= self.failures_to_mark;
        *streak = (if marks { 0 } else { count }, now);
        marks && self.mark_down(id, now)
    }

    /// No answer came within `ORIGIN_TIMEOUT_MS`: counted as [`HealthBook::failed`], but never
    /// against the last origin up ([`HealthBook::is_up`]: by both sources, an origin the
    /// shared snapshot marks down is not up). A slow answer may be the client's doing (a long
    /// poll waiting for news, an expensive path), and marking every origin down would turn the
    /// whole site into 503s until the marks end.
    pub fn timed_out(&mut self, id: &str, now: UnixTime) -> bool {
        let Some(at) = self.index(id) else {
            return false;
        };
        let others_up = (0..self.ids.len()).any(|i| i != at && self.is_up_at(i, now));
        others_up && self.failed(id, now)
    }

    /// The origin answered (any status): its failure streak ends.
    pub fn answered(&mut self, id: &str) {
        if let Some(streak) = self.index(id).and_then(|i| self.streaks.get_mut(i)) {
            streak.0 = 0;
        }
    }

    fn passive_up(&self, id: &str, now: UnixTime) -> bool {
        let until = self
            .index(id)
            .and_then(|i| self.down_until.get(i).copied().flatten());
        until.is_none_or(|t| now >= t)
    }

    /// The shared snapshot when it is recent enough to act on: checked within
    /// `HEALTH_MAX_AGE_SECONDS` of now, before or after (one dated further ahead, a corrupt
    /// entry or a clock far off, would otherwise never grow stale).
    fn fresh_shared(&self, now: UnixTime) -> Option<&Snapshot> {
        self.shared
            .as_ref()
            .filter(|s| now.abs_diff(s.checked_at) <= self.max_age)
    }

    /// Whether the shared snapshot is set aside now ("fail open"): it is fresh, and it marks
    /// down every origin that this instance's own requests still reach (passively up), so that
    /// by both sources no origin would take traffic. Then every origin passively up takes
    /// traffic (a wrong `HEALTH_PATH`, or probes blocked by a WAF, would otherwise turn the
    /// whole site into 503s). False when every origin is passively down: the snapshot then
    /// changes nothing, and the answer is "all origins are down". O(1).
    pub fn failing_open(&self, now: UnixTime) -> bool {
        self.fresh_shared(now).is_some() && self.passive_back_at <= now && self.both_back_at > now
    }

    /// True when this instance begins failing open ([`HealthBook::failing_open`]): once, for
    /// the one log line, until it is over (some origin up by both sources, or the snapshot no
    /// longer fresh). A time when every origin is passively down does not end it: the origins
    /// coming back start no new one.
    pub fn began_failing_open(&mut self, now: UnixTime) -> bool {
        let open = self.failing_open(now);
        let began = open && !self.failing_open_noted;
        if open || self.passive_back_at <= now {
            self.failing_open_noted = open;
        }
        began
    }

    /// Whether the origin takes traffic now.
    pub fn is_up(&self, id: &str, now: UnixTime) -> bool {
        self.index(id).is_none_or(|i| self.is_up_at(i, now))
    }

    /// [`HealthBook::is_up`] of the origin at `index` in the configuration, found without
    /// searching the ids: what the gateway asks of every origin on every request. The one
    /// predicate of health (routing, retries, the 503's wording, the operator's report): up by
    /// the passive rule, and not marked down by a fresh shared snapshot unless that is set
    /// aside ([`HealthBook::failing_open`]). O(1).
    pub(crate) fn is_up_at(&self, index: usize, now: UnixTime) -> bool {
        let passive = self
            .down_until
            .get(index)
            .copied()
            .flatten()
            .is_none_or(|t| now >= t);
        let shared_down = self.shared_down.get(index).copied().unwrap_or(false);
        passive && (!shared_down || self.fresh_shared(now).is_none() || self.failing_open(now))
    }

    /// Whether this instance has never had a shared snapshot, read or probed, nor begun to read
    /// one: its first request then waits for the read. Marks it as being read, as
    /// [`HealthBook::take_shared_refresh`] does.
    pub fn take_first_read(&mut self, now: UnixTime) -> bool {
        self.shared_read_at.is_none() && self.take_shared_refresh(now)
    }

    /// Whether the shared snapshot is due to be read again from KV. Marks it as being read, so
    /// concurrent requests do not all read it.
    pub fn take_shared_refresh(&mut self, now: UnixTime) -> bool {
        let due = self
            .shared_read_at
            .is_none_or(|t| now >= t.saturating_add(self.cache_seconds));
        if due {
            self.shared_read_at = Some(now);
        }
        due
    }

    /// Installs a snapshot read from KV, unless the one installed is fresh and newer: one this
    /// instance's cron run probed while the read was under way (the read then ended with the
    /// older one: a request's read runs beside the cron's run in the same instance), or whose
    /// write the read did not see yet. Either way the newer result stands; so it does over a
    /// read that found none (nothing written yet, an edge's cached "not found", or unreadable).
    pub fn read_shared(&mut self, snapshot: Option<Snapshot>, now: UnixTime) {
        let installed = self.fresh_shared(now).map(|s| s.checked_at);
        if installed.is_some_and(|at| snapshot.as_ref().is_none_or(|read| read.checked_at < at)) {
            self.shared_read_at = Some(now);
        } else {
            self.set_shared(snapshot, now);
        }
    }

    /// Installs a snapshot (the one this instance's cron run probed; [`HealthBook::read_shared`]
    /// for one read from KV).
    pub fn set_shared(&mut self, snapshot: Option<Snapshot>, now: UnixTime) {
        // Ids the configuration does not have are no origins of this gateway: left aside.
        self.shared_down = self
            .ids
            .iter()
            .map(|id| {
                snapshot
                    .as_ref()
                    .and_then(|s| s.origins.get(id))
                    .is_some_and(|p| !p.healthy)
            })
            .collect();
        self.shared = snapshot;
        self.shared_read_at = Some(now);
        self.recount();
    }

    /// The smallest time until some origin comes back by the passive rule, for `Retry-After`.
    pub fn retry_after(&self, now: UnixTime) -> u64 {
        let soonest = self
            .down_until
            .iter()
            .flatten()
            .filter(|&&t| t > now)
            .map(|t| t - now)
            .min();
        soonest
            .unwrap_or(self.down_seconds)
            .clamp(1, self.down_seconds.max(1))
    }

    /// The operator's view, as JSON: `failOpen` is [`HealthBook::failing_open`] (the fresh
    /// shared snapshot set aside), each origin's `up` is [`HealthBook::is_up`].
    pub fn report(&self, origins: &[Origin], now: UnixTime) -> Value {
        let shared = self.fresh_shared(now);
        let list: Vec<Value> = origins
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let passive = self
                    .down_until
                    .get(i)
                    .copied()
                    .flatten()
                    .filter(|&t| t > now);
                json!({
                    "id": o.id,
                    "url": o.url,
                    "weight": o.weight,
                    "draining": o.draining,
                    "up": self.is_up_at(i, now),
                    "passiveDownUntil": passive,
                    "shared": shared.and_then(|s| s.origins.get(&o.id)),
                })
            })
            .collect();
        json!({
            "now": now,
            "sharedCheckedAt": self.shared.as_ref().map(|s| s.checked_at),
            "sharedFresh": shared.is_some(),
            "failOpen": self.failing_open(now),
            "origins": list,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> GatewayConfig {
        GatewayConfig::from_vars(|name| match name {
            "ORIGINS" => Some(
                r#"[{"id":"a","url":"http://127.0.0.1:1"},{"id":"b","url":"http://127.0.0.1:2"}]"#
                    .into(),
            ),
            "SESSION_KEYS" => Some(
                r#"[{"id":"k","secret":"muWqvhvE5TGgnNaB7tLiEfjNErJLk5Rr96y-lhiH620"}]"#.into(),
            ),
            "HEALTH_DOWN_SECONDS" => Some("30".into()),
            "HEALTH_MAX_AGE_SECONDS" => Some("300".into()),
            "HEALTH_CACHE_SECONDS" => Some("10".into()),
            _ => None,
        })
        .unwrap()
    }

    #[test]
    fn passive_marks_expire() {
        let mut book = HealthBook::new(&config());
        assert!(book.is_up("a", 1000));
        assert!(book.mark_down("a", 1000));
        assert!(!book.mark_down("a", 1001), "already down: not news");
        assert!(!book.is_up("a", 1030) && book.is_up("b", 1030));
        assert!(book.is_up("a", 1031));
        assert_eq!(book.retry_after(1021), 10);
        // Back at 1031: no origin is waited for, the default again.
        assert_eq!(book.retry_after(1031), 30);
        assert_eq!(book.retry_after(2000), 30);
        let until =
            |now| book.report(&config().origins, now)["origins"][0]["passiveDownUntil"].clone();
        assert_eq!((until(1021), until(1031)), (json!(1031), Value::Null));
        assert!(!book.mark_down("unknown", 1000));
    }

    #[test]
    fn an_origin_is_marked_down_by_failures_in_a_row_only() {
        let mut book = HealthBook::new(&config());
        assert!(!book.failed("a", 1000) && !book.failed("a", 1001));
        assert!(book.is_up("a", 1001));
        book.answered("a");
        assert!(!book.failed("a", 1002) && !book.failed("a", 1003));
        assert!(
            book.is_up("a", 1003),
            "an answer in between ends the streak"
        );
        assert!(book.failed("a", 1004), "the third in a row marks it down");
        assert!(!book.is_up("a", 1004) && book.is_up("b", 1004));
        // Failures far apart are no streak.
        assert!(!book.failed("b", 2000) && !book.failed("b", 2031) && !book.failed("b", 2062));
        assert!(book.is_up("b", 2062));
        // Failures HEALTH_DOWN_SECONDS (30) apart are still in a row.
        assert!(!book.failed("b", 2092));
        assert!(book.failed("b", 2122), "30 s apart: the third in a row");
        assert!(!book.failed("unknown", 1000));
    }

    /// Once its mark expires, an origin takes `HEALTH_FAILURES` new failures in a row to be
    /// marked down again, whenever the first comes: the mark ended the streak that made it.
    #[test]
    fn a_mark_ends_its_streak() {
        let mut book = HealthBook::new(&config());
        assert!(!book.failed("a", 1000) && !book.failed("a", 1000));
        assert!(book.failed("a", 1000), "down until 1030");
        for at in [1030, 1031, 1060] {
            let mut book = book.clone();
            assert!(book.is_up("a", at));
            assert!(!book.failed("a", at), "one failure at {at} is no streak");
            assert!(book.is_up("a", at));
        }
    }

    #[test]
    fn shared_snapshot_counts_while_fresh() {
        let mut book = HealthBook::new(&config());
        let mut snap = Snapshot {
            checked_at: 1000,
            ..Snapshot::default()
        };
        snap.origins
            .insert("a".into(), Probe::failed("connection refused", 3));
        snap.origins.insert("b".into(), Probe::answered(200, 1));
        book.set_shared(Snapshot::parse(&snap.to_json()), 1000);
        assert_eq!(snap.down(), ["a"]);
        assert!(!book.is_up("a", 1200) && book.is_up("b", 1200));
        assert!(book.is_up("a", 1301), "stale snapshot ignored");
        assert_eq!(
            book.report(&config().origins, 1200)["origins"][0]["shared"]["error"],
            "connection refused"
        );
    }

    /// A snapshot dated in the future (a corrupt entry, a writer's clock far ahead) never became
    /// stale: it held origins out forever once the cron stopped, and the cron, finding the same
    /// health, never wrote over it.
    #[test]
    fn a_snapshot_from_the_future_is_not_fresh_forever() {
        let mut book = HealthBook::new(&config());
        let mut snap = Snapshot {
            checked_at: 1_000_000,
            ..Snapshot::default()
        };
        snap.origins.insert("a".into(), Probe::failed("refused", 1));
        book.set_shared(Some(snap.clone()), 1000);
        assert!(
            book.is_up("a", 1000),
            "a result from 11 days ahead is no result"
        );
        assert_eq!(book.report(&config().origins, 1000)["sharedFresh"], false);
        // A little ahead (clocks differ) still counts.
        snap.checked_at = 1010;
        book.set_shared(Some(snap.clone()), 1000);
        assert!(!book.is_up("a", 1000));
        // The cron writes over a stored one from the future, even with the same health.
        snap.checked_at = 1_000_000;
        let now = Snapshot {
            checked_at: 1000,
            ..snap.clone()
        };
        assert!(now.worth_writing(Some(&snap), 300));
    }

    /// The snapshot of a cron run at `at` whose probes of `down` got a 404 (a `HEALTH_PATH` the
    /// origins do not have) and of `up` a 200.
    fn probed(down: &[&str], up: &[&str], at: UnixTime) -> Option<Snapshot> {
        let mut snap = Snapshot {
            checked_at: at,
            ..Snapshot::default()
        };
        for (ids, status) in [(down, 404), (up, 200)] {
            for id in ids {
                snap.origins
                    .insert((*id).into(), Probe::answered(status, 1));
            }
        }
        Some(snap)
    }

    /// A snapshot that marked every origin down (a wrong `HEALTH_PATH`, probes blocked by a WAF)
    /// took the whole site down at every location while the origins served fine. It is set
    /// aside while it would leave no origin up: the origins this instance reaches take traffic,
    /// and only this instance's own failures keep one out; all of them, and it is all down.
    #[test]
    fn a_snapshot_that_marks_every_origin_down_is_set_aside() {
        let mut book = HealthBook::new(&config());
        book.set_shared(probed(&["a", "b"], &[], 1000), 1000);
        assert!(book.is_up("a", 1000) && book.is_up("b", 1000));
        let report = book.report(&config().origins, 1000);
        assert_eq!(report["failOpen"], true, "{report}");
        assert_eq!(report["sharedFresh"], true);
        assert_eq!(report["origins"][0]["up"], true);
        assert_eq!(report["origins"][0]["shared"]["status"], 404);
        // This instance's own failures still count: only the origins it reaches take traffic.
        assert!(book.mark_down("a", 1000));
        assert!(!book.is_up("a", 1000) && book.is_up("b", 1000));
        assert!(book.failing_open(1000));
        // Every origin down by its own failures: all down, the snapshot changes nothing.
        assert!(book.mark_down("b", 1010));
        assert!(!book.is_up("a", 1010) && !book.is_up("b", 1010));
        assert!(!book.failing_open(1010));
        assert_eq!(book.report(&config().origins, 1010)["failOpen"], false);
        assert_eq!(book.retry_after(1010), 20, "until a's mark ends");
        // a's mark ends: it takes traffic again, though the snapshot still marks it down.
        assert!(book.is_up("a", 1030) && !book.is_up("b", 1030));
        assert!(book.failing_open(1030));
        // A stale snapshot is no snapshot: nothing to set aside.
        assert!(book.is_up("a", 1301) && !book.failing_open(1301));
    }

    /// While some origin is up by both sources, the snapshot counts; when this instance's own
    /// failures take out the last one, it is set aside, and counts again once that one is back.
    #[test]
    fn a_snapshot_counts_while_it_leaves_an_origin_up() {
        let mut book = HealthBook::new(&config());
        book.set_shared(probed(&["a"], &["b"], 1000), 1000);
        assert!(!book.is_up("a", 1000) && book.is_up("b", 1000));
        assert!(!book.failing_open(1000));
        book.mark_down("b", 1000);
        assert!(book.failing_open(1000));
        assert!(book.is_up("a", 1000) && !book.is_up("b", 1000));
        assert!(!book.failing_open(1030), "b is back");
        assert!(!book.is_up("a", 1030) && book.is_up("b", 1030));
        // A new snapshot that finds a healthy too: nothing set aside.
        book.set_shared(probed(&[], &["a", "b"], 1040), 1040);
        book.mark_down("b", 1040);
        assert!(book.is_up("a", 1040) && !book.failing_open(1040));
    }

    /// Only the configuration's origins count: a snapshot naming others (another deployment's,
    /// an origin since removed) neither sets itself aside nor keeps itself counted by them, and
    /// an origin it does not name is up by it. One from the future, or stale, is ignored anyway.
    #[test]
    fn only_configured_origins_count_and_an_unfresh_snapshot_is_ignored() {
        let mut book = HealthBook::new(&config());
        book.set_shared(probed(&["zz", "yy"], &[], 1000), 1000);
        assert!(!book.failing_open(1000) && book.is_up("a", 1000) && book.is_up("b", 1000));
        book.set_shared(probed(&["a", "b"], &["zz"], 1000), 1000);
        assert!(book.failing_open(1000) && book.is_up("a", 1000));
        book.set_shared(probed(&["a"], &["zz"], 1000), 1000);
        assert!(!book.failing_open(1000) && !book.is_up("a", 1000) && book.is_up("b", 1000));
        for checked_at in [1_000_000, 600] {
            book.set_shared(probed(&["a", "b"], &[], checked_at), 1000);
            assert!(book.is_up("a", 1000) && book.is_up("b", 1000));
            assert!(!book.failing_open(1000), "{checked_at}");
            assert_eq!(book.report(&config().origins, 1000)["failOpen"], false);
        }
    }

    /// One log line when an instance begins failing open, not one per request: the episode
    /// lasts through a time when every origin is passively down, and ends when some origin is up
    /// by both sources again.
    #[test]
    fn failing_open_is_news_once() {
        let mut book = HealthBook::new(&config());
        assert!(!book.began_failing_open(1000));
        book.set_shared(probed(&["a", "b"], &[], 1000), 1000);
        assert!(book.began_failing_open(1000));
        assert!(!book.began_failing_open(1001));
        book.mark_down("a", 1001);
        book.mark_down("b", 1001);
        assert!(!book.began_failing_open(1002), "all down: the same episode");
        assert!(!book.began_failing_open(1031), "back: the same episode");
        // The probes pass again: over. A later one that marks every origin down is news.
        book.set_shared(probed(&[], &["a", "b"], 1040), 1040);
        assert!(!book.began_failing_open(1040));
        book.set_shared(probed(&["a", "b"], &[], 1100), 1100);
        assert!(book.began_failing_open(1100));
    }

    /// A new instance's first request waits for the shared snapshot, once: not again after a
    /// read that failed, nor when the instance's cron installed one first.
    #[test]
    fn only_the_first_read_is_waited_for() {
        let mut book = HealthBook::new(&config());
        assert!(book.take_first_read(1000));
        assert!(!book.take_first_read(1000) && !book.take_first_read(2000));
        let mut probed_first = HealthBook::new(&config());
        probed_first.set_shared(probed(&["a"], &["b"], 1000), 1000);
        assert!(!probed_first.take_first_read(1000));
    }

    /// A request's background read of the shared snapshot runs beside the cron's run in the
    /// same instance: when the cron installs its newer result while the read is under way, the
    /// read's older snapshot (or one read before the cron's write shows) must not replace it.
    #[test]
    fn an_older_snapshot_read_never_replaces_a_newer_one() {
        let mut book = HealthBook::new(&config());
        assert!(book.take_shared_refresh(1000), "a request starts a read");
        book.set_shared(probed(&["a"], &["b"], 1030), 1030); // the cron: a is down
        book.read_shared(probed(&[], &["a", "b"], 960), 1000); // the read lands, older
        assert!(!book.is_up("a", 1031) && book.is_up("b", 1031));
        assert_eq!(
            book.report(&config().origins, 1031)["sharedCheckedAt"],
            1030
        );
        // One probed the same second (by another instance's cron) is no older: it is installed.
        book.read_shared(probed(&[], &["a", "b"], 1030), 1031);
        assert!(book.is_up("a", 1031));
        // A newer one read replaces it; so does any once it is no longer fresh.
        book.read_shared(probed(&[], &["a", "b"], 1090), 1100);
        assert!(book.is_up("a", 1100));
        book.set_shared(probed(&["a"], &["b"], 1_000_000), 1100);
        book.read_shared(probed(&[], &["a", "b"], 1090), 1100);
        assert!(book.is_up("a", 1100), "one from the future is no newer one");
        // No snapshot in KV (none written yet where the read went, a cached "not found"): the
        // fresh one installed stands, as the cron's own did; once it is no longer fresh, none.
        book.set_shared(probed(&["a"], &["b"], 1100), 1100);
        book.read_shared(None, 1101);
        assert!(
            !book.is_up("a", 1101),
            "an empty read dropped the fresh snapshot"
        );
        book.read_shared(None, 1401);
        assert_eq!(
            book.report(&config().origins, 1401)["sharedCheckedAt"],
            Value::Null
        );
    }

    #[test]
    fn kv_writes_only_on_change_or_age() {
        let mut old = Snapshot {
            checked_at: 1000,
            ..Snapshot::default()
        };
        old.origins.insert("a".into(), Probe::answered(200, 1));
        let mut new = Snapshot {
            checked_at: 1060,
            ..old.clone()
        };
        new.origins.insert("a".into(), Probe::answered(200, 9));
        assert!(new.worth_writing(None, 300));
        assert!(!new.worth_writing(Some(&old), 300), "same health, recent");
        new.checked_at = 1150;
        assert!(
            new.worth_writing(Some(&old), 300),
            "stored one half its age"
        );
        new.checked_at = 1060;
        new.origins.insert("a".into(), Probe::failed("refused", 1));
        assert!(new.worth_writing(Some(&old), 300), "health changed");
        new.origins.insert("a".into(), Probe::answered(200, 1));
        new.origins.insert("b".into(), Probe::failed("refused", 1));
        assert!(new.worth_writing(Some(&old), 300), "origin added, down");
        new.origins.insert("b".into(), Probe::answered(200, 1));
        assert!(
            !new.worth_writing(Some(&old), 300),
            "origin added, up: as read before"
        );
    }

    /// While a deploy that changes `ORIGINS` spreads (or a gradual deployment splits the cron's
    /// runs), the two versions probe different origins and write the one snapshot in turn. Each
    /// took the other's for a change (its list of origins differs) and wrote at every run: a KV
    /// write a minute, 1,440 a day, over the free plan's 1,000. A stored snapshot is worth
    /// replacing when an origin this version probes is missing from it or changed, or it is
    /// half its age; one it does not probe (the other version's) changes nothing: the two write
    /// no more often than one does.
    #[test]
    fn two_versions_with_other_origins_write_no_more_than_one() {
        let probed = |ids: &[&str], at: UnixTime| Snapshot {
            checked_at: at,
            origins: (ids.iter())
                .map(|id| ((*id).to_owned(), Probe::answered(200, 1)))
                .collect(),
        };
        let writes = |versions: &[&[&str]]| {
            let mut stored: Option<Snapshot> = None;
            let mut n = 0;
            for run in 0..20u64 {
                let ids = versions[run as usize % versions.len()];
                let snapshot = probed(ids, 1000 + 60 * run);
                if snapshot.worth_writing(stored.as_ref(), 300) {
                    stored = Some(snapshot);
                    n += 1;
                }
            }
            n
        };
        let one = writes(&[&["a", "b", "c"]]);
        assert_eq!(one, 7);
        assert!(writes(&[&["a", "b", "c"], &["a", "b", "c", "d"]]) <= one + 1);
        assert!(writes(&[&["a", "b", "c"], &["a", "b"]]) <= one + 1);
        // An origin of its own missing from the stored snapshot is a change when it is down
        // (readers take a missing one for up).
        let mut old = probed(&["a", "b"], 1000);
        let mut new = probed(&["a", "b", "c"], 1060);
        assert!(!new.worth_writing(Some(&old), 300));
        new.origins.insert("c".into(), Probe::failed("refused", 1));
        assert!(new.worth_writing(Some(&old), 300));
        // One of its own whose health changed is, whatever the other origins.
        old.origins.insert("c".into(), Probe::failed("refused", 1));
        assert!(probed(&["a", "b", "c"], 1060).worth_writing(Some(&old), 300));
        assert!(!probed(&["a", "b"], 1060).worth_writing(Some(&old), 300));
    }

    #[test]
    fn the_cron_probes_every_origin_health_path() {
        let mut c = config();
        c.health_path = "/healthz".into();
        assert_eq!(
            probe_targets(&c),
            [
                ("a".to_owned(), "http://127.0.0.1:1/healthz".to_owned()),
                ("b".to_owned(), "http://127.0.0.1:2/healthz".to_owned()),
            ]
        );
    }

    #[test]
    fn shared_reads_are_throttled() {
        let mut book = HealthBook::new(&config());
        assert!(book.take_shared_refresh(1000));
        assert!(!book.take_shared_refresh(1009));
        assert!(book.take_shared_refresh(1010));
    }

    #[test]
    fn probes_classify_and_garbage_is_no_snapshot() {
        assert!(Probe::answered(204, 1).healthy && !Probe::answered(500, 1).healthy);
        assert_eq!(Probe::failed(&"é".repeat(150), 0).error.unwrap().len(), 200);
        // Cut before a character that byte 200 would split.
        let split = format!("a{}", "é".repeat(150));
        assert_eq!(Probe::failed(&split, 0).error.unwrap().len(), 199);
        assert_eq!(Snapshot::parse("{"), None);
        assert_eq!(Snapshot::parse("[]"), None);
    }

    /// Members are read as the serde derive read them: `null` or nothing for an optional
    /// member, nothing for `ms`; a member of another type (a string flag, a status past
    /// `u16`, a number with a fraction or an exponent, a negative one) makes no snapshot.
    #[test]
    fn snapshot_members_have_their_types() {
        let read = |probe: &str| {
            let text = format!(r#"{{"checked_at":5,"origins":{{"a":{probe}}}}}"#);
            Snapshot::parse(&text).map(|s| s.origins.get("a").cloned())
        };
        let up = Probe {
            healthy: true,
            status: None,
            error: None,
            ms: 0,
        };
        assert_eq!(
            read(r#"{"healthy":true,"status":null,"error":null}"#),
            Some(Some(up.clone()))
        );
        assert_eq!(read(r#"{"healthy":true}"#), Some(Some(up)));
        for bad in [
            r#"{"healthy":"true"}"#,
            r#"{"status":200}"#,
            r#"{"healthy":true,"status":65536}"#,
            r#"{"healthy":true,"status":200.0}"#,
            r#"{"healthy":true,"ms":null}"#,
            r#"{"healthy":true,"ms":-1}"#,
            r#"{"healthy":true,"ms":1e3}"#,
            r#"{"healthy":true,"error":5}"#,
            "[]",
        ] {
            assert_eq!(read(bad), None, "{bad}");
        }
        let max = r#"{"checked_at":18446744073709551615,"origins":{}}"#;
        assert_eq!(Snapshot::parse(max).map(|s| s.checked_at), Some(u64::MAX));
        for bad in [
            r#"{"checked_at":18446744073709551616,"origins":{}}"#,
            r#"{"checked_at":-0,"origins":{}}"#,
            r#"{"checked_at":5}"#,
            r#"{"origins":{}}"#,
            r#"{"checked_at":5,"origins":[]}"#,
        ] {
            assert_eq!(Snapshot::parse(bad), None, "{bad}");
        }
    }

    /// The snapshot in KV, frozen: while a deploy spreads (or a gradual deployment splits the
    /// cron's runs) each version writes what the other reads, under the same key. A member a
    /// later version adds is read past, not taken for no snapshot (which would drop the shared
    /// health at every instance of the earlier version).
    #[test]
    fn the_snapshot_in_kv_is_frozen() {
        assert_eq!(KV_KEY, "health:v1");
        let text = concat!(
            r#"{"checked_at":1800000000,"origins":{"#,
            r#""a":{"healthy":true,"status":200,"ms":12},"#,
            r#""b":{"healthy":false,"error":"connection refused","ms":3000},"#,
            r#""c":{"healthy":false,"status":503,"ms":40}}}"#
        );
        let snapshot = Snapshot {
            checked_at: 1_800_000_000,
            origins: [
                ("a", Probe::answered(200, 12)),
                ("b", Probe::failed("connection refused", 3000)),
                ("c", Probe::answered(503, 40)),
            ]
            .into_iter()
            .map(|(id, p)| (id.to_owned(), p))
            .collect(),
        };
        assert_eq!(snapshot.to_json(), text);
        assert_eq!(Snapshot::parse(text), Some(snapshot.clone()));
        assert_eq!(snapshot.down(), ["b", "c"]);
        let later = r#"{"checked_at":1800000000,"v":2,"origins":{"a":{"healthy":true,"status":200,"ms":12,"region":"x"},"b":{"healthy":false,"error":"connection refused","ms":3000},"c":{"healthy":false,"status":503,"ms":40}}}"#;
        assert_eq!(Snapshot::parse(later), Some(snapshot));
    }

    /// What the book keeps to answer in O(1) (each origin's snapshot mark by index, the earliest
    /// ends of the passive marks) against the rule written out: an origin is up when it is
    /// passively up and not marked down by a fresh snapshot, unless the fresh snapshot marks
    /// down every origin passively up and some origin is ("fail open"). Any sequence of marks,
    /// snapshots (fresh, stale, future-dated, naming other ids) and times.
    #[cfg(not(target_arch = "wasm32"))]
    mod model {
        use super::*;
        use proptest::prelude::*;

        const IDS: [&str; 3] = ["a", "b", "c"];

        #[derive(Clone, Debug)]
        enum Op {
            Wait(u64),
            Mark(usize),
            /// Each origin probed healthy, unhealthy or not named; "zz" unhealthy when true;
            /// checked this many seconds before now (negative: ahead).
            Snapshot([Option<bool>; 3], bool, i64),
            NoSnapshot,
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                (0u64..40).prop_map(Op::Wait),
                (0usize..3).prop_map(Op::Mark),
                (
                    proptest::array::uniform3(proptest::option::of(any::<bool>())),
                    any::<bool>(),
                    -400i64..400,
                )
                    .prop_map(|(h, zz, age)| Op::Snapshot(h, zz, age)),
                Just(Op::NoSnapshot),
            ]
        }

        proptest! {
            #[test]
            fn the_book_answers_as_the_rule_says(ops in proptest::collection::vec(op(), 1..40)) {
                let mut c = config();
                c.origins.push(Origin { id: "c".into(), ..c.origins[0].clone() });
                let mut book = HealthBook::new(&c);
                let mut now: UnixTime = 10_000;
                let mut until: [Option<UnixTime>; 3] = [None; 3];
                let mut shared: Option<(UnixTime, [bool; 3])> = None;
                for op in ops {
                    match op {
                        Op::Wait(s) => now += s,
                        Op::Mark(i) => {
                            book.mark_down(IDS[i], now);
                            until[i] = Some(now + 30);
                        }
                        Op::Snapshot(health, zz, age) => {
                            let at = now.saturating_add_signed(-age);
                            let mut snap = Snapshot { checked_at: at, ..Snapshot::default() };
                            for (id, h) in IDS.iter().zip(health) {
                                if let Some(h) = h {
                                    snap.origins.insert((*id).into(), Probe::answered(if h { 200 } else { 503 }, 1));
                                }
                            }
                            if zz {
                                snap.origins.insert("zz".into(), Probe::failed("refused", 1));
                            }
                            book.set_shared(Some(snap), now);
                            shared = Some((at, health.map(|h| h == Some(false))));
                        }
                        Op::NoSnapshot => {
                            book.set_shared(None, now);
                            shared = None;
                        }
                    }
                    let passive = until.map(|t| t.is_none_or(|t| now >= t));
                    let marked = shared
                        .filter(|(at, _)| now.abs_diff(*at) <= 300)
                        .map(|(_, down)| down);
                    let both = |i: usize| passive[i] && !marked.is_some_and(|m| m[i]);
                    let open = marked.is_some() && passive.iter().any(|&p| p) && !(0..3).any(both);
                    prop_assert_eq!(book.failing_open(now), open);
                    for (i, id) in IDS.iter().enumerate() {
                        let up = both(i) || (open && passive[i]);
                        prop_assert_eq!(book.is_up(id, now), up, "{} at {}", id, now);
                        prop_assert_eq!(book.is_up_at(i, now), up);
                    }
                }
            }
        }
    }
}
