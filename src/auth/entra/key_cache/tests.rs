//! The refresh rules of the key cache, against a fake provider and a clock the tests move.

use std::sync::Arc;

use futures_util::future::join_all;

use super::*;
use crate::auth::entra::testing::{FakeSource, TestClock, TestKey};

const MIN_REFRESH: Duration = Duration::from_secs(300);

fn cache(source: &Arc<FakeSource>, clock: &TestClock) -> KeyCache<Arc<FakeSource>> {
    KeyCache::with_clock(Arc::clone(source), MIN_REFRESH, clock.boxed())
}

/// A cache over `source` that has fetched the shared key once, and the clock it reads.
async fn warmed(source: &Arc<FakeSource>) -> (KeyCache<Arc<FakeSource>>, TestClock) {
    let clock = TestClock::new();
    let cache = cache(source, &clock);
    cache.key(&TestKey::shared().kid).await.unwrap();
    (cache, clock)
}

/// Waits (yielding) until `source` has started `count` fetches.
async fn fetches_started(source: &FakeSource, count: usize) {
    while source.fetches() < count {
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn fetches_once_and_serves_known_kids_from_the_cache() {
    let key = TestKey::shared();
    let source = FakeSource::with_keys(&[key]);
    let cache = cache(&source, &TestClock::new());

    let found = cache.key(&key.kid).await.unwrap();
    cache.key(&key.kid).await.unwrap();

    assert_eq!(source.fetches(), 1);
    assert_eq!(found.keys.issuer, source.issuer);
}

#[tokio::test]
async fn an_unknown_kid_causes_no_fetch_within_the_minimum_interval() {
    let key = TestKey::shared();
    let source = FakeSource::with_keys(&[key]);
    let (cache, clock) = warmed(&source).await;

    clock.advance(MIN_REFRESH - Duration::from_secs(1));
    let unknown = cache.key("rotated-in").await;

    assert_eq!(unknown.err(), Some(KeyError::Unknown));
    assert_eq!(source.fetches(), 1);
}

#[tokio::test]
async fn an_unknown_kid_fetches_again_after_the_minimum_interval() {
    let old = TestKey::shared();
    let new = TestKey::generate("rotated-in");
    let source = FakeSource::with_keys(&[old]);
    let clock = TestClock::new();
    let cache = cache(&source, &clock);
    cache.key(&old.kid).await.unwrap();
    source.publish(&[&new]);

    clock.advance(MIN_REFRESH);
    let found = cache.key(&new.kid).await;

    assert!(found.is_ok());
    assert_eq!(source.fetches(), 2);
    assert_eq!(cache.key(&old.kid).await.err(), Some(KeyError::Unknown));
}

#[tokio::test]
async fn a_burst_of_requests_waits_for_one_fetch() {
    let key = TestKey::shared();
    let source = FakeSource::gated(&[key]);
    let cache = cache(&source, &TestClock::new());

    let requests = join_all((0..20).map(|_| cache.key(&key.kid)));
    let release = async {
        fetches_started(&source, 1).await;
        source.open_gate(1);
    };
    let (results, ()) = tokio::join!(requests, release);

    assert!(results.iter().all(Result::is_ok));
    assert_eq!(source.fetches(), 1);
}

#[tokio::test]
async fn a_burst_of_unknown_kids_causes_at_most_one_fetch() {
    let key = TestKey::shared();
    let source = FakeSource::gated(&[key]);
    source.open_gate(1);
    let (cache, clock) = warmed(&source).await;
    clock.advance(MIN_REFRESH);

    let kids: Vec<String> = (0..20).map(|n| format!("made-up-{n}")).collect();
    let requests = join_all(kids.iter().map(|kid| cache.key(kid)));
    let release = async {
        fetches_started(&source, 2).await;
        source.open_gate(1);
    };
    let (results, ()) = tokio::join!(requests, release);

    assert!(results.iter().all(|result| result.is_err()));
    assert_eq!(source.fetches(), 2);
}

#[tokio::test]
async fn without_keys_an_unreachable_provider_is_unavailable_until_the_backoff_ends() {
    let key = TestKey::shared();
    let source = FakeSource::with_keys(&[key]);
    source.fail();
    let clock = TestClock::new();
    let cache = cache(&source, &clock);

    assert_eq!(cache.key(&key.kid).await.err(), Some(KeyError::Unavailable));
    clock.advance(RETRY_BACKOFF - Duration::from_secs(1));
    assert_eq!(cache.key(&key.kid).await.err(), Some(KeyError::Unavailable));
    assert_eq!(source.fetches(), 1);

    source.publish(&[key]);
    clock.advance(Duration::from_secs(1));
    assert!(cache.key(&key.kid).await.is_ok());
    assert_eq!(source.fetches(), 2);
}

#[tokio::test]
async fn the_backoff_is_no_longer_than_the_minimum_interval() {
    let key = TestKey::shared();
    let source = FakeSource::with_keys(&[key]);
    source.fail();
    let clock = TestClock::new();
    let cache = KeyCache::with_clock(Arc::clone(&source), Duration::from_secs(2), clock.boxed());
    assert!(cache.key(&key.kid).await.is_err());

    source.publish(&[key]);
    clock.advance(Duration::from_secs(2));

    assert!(cache.key(&key.kid).await.is_ok());
}

#[tokio::test]
async fn after_a_failed_refresh_an_unknown_kid_is_retried_after_the_backoff() {
    let old = TestKey::shared();
    let new = TestKey::generate("rotated-in");
    let source = FakeSource::with_keys(&[old]);
    let clock = TestClock::new();
    let cache = cache(&source, &clock);
    cache.key(&old.kid).await.unwrap();
    clock.advance(MIN_REFRESH);
    source.fail();
    assert_eq!(cache.key(&new.kid).await.err(), Some(KeyError::Unknown));

    source.publish(&[old, &new]);
    clock.advance(RETRY_BACKOFF);
    let found = cache.key(&new.kid).await;

    assert!(found.is_ok());
    assert_eq!(source.fetches(), 3);
}

#[tokio::test]
async fn keys_a_day_old_are_fetched_again() {
    let key = TestKey::shared();
    let source = FakeSource::with_keys(&[key]);
    let (cache, clock) = warmed(&source).await;

    clock.advance(MAX_AGE - Duration::from_secs(1));
    cache.key(&key.kid).await.unwrap();
    assert_eq!(source.fetches(), 1);
    clock.advance(Duration::from_secs(1));
    cache.key(&key.kid).await.unwrap();

    assert_eq!(source.fetches(), 2);
}

#[tokio::test]
async fn stale_keys_stay_in_use_when_the_refresh_fails() {
    let key = TestKey::shared();
    let source = FakeSource::with_keys(&[key]);
    let (cache, clock) = warmed(&source).await;
    source.fail();

    clock.advance(MAX_AGE);
    assert!(cache.key(&key.kid).await.is_ok());
    assert!(cache.key(&key.kid).await.is_ok());
    assert_eq!(source.fetches(), 2);

    clock.advance(RETRY_BACKOFF);
    assert!(cache.key(&key.kid).await.is_ok());
    assert_eq!(source.fetches(), 3);
}

#[tokio::test]
async fn other_requests_use_stale_keys_while_one_refreshes_them() {
    let key = TestKey::shared();
    let source = FakeSource::gated(&[key]);
    source.open_gate(1);
    let (cache, clock) = warmed(&source).await;
    clock.advance(MAX_AGE);

    let refreshing = cache.key(&key.kid);
    let others = async {
        fetches_started(&source, 2).await;
        let other = cache.key(&key.kid).await;
        source.open_gate(1);
        other
    };
    let (refreshed, other) = tokio::join!(refreshing, others);

    assert!(refreshed.is_ok() && other.is_ok());
    assert_eq!(source.fetches(), 2);
}

#[tokio::test]
async fn an_abandoned_fetch_counts_as_a_failure() {
    let key = TestKey::shared();
    let source = FakeSource::gated(&[key]);
    let cache = cache(&source, &TestClock::new());

    let abandoned = tokio::time::timeout(Duration::from_millis(50), cache.key(&key.kid)).await;
    assert!(abandoned.is_err());

    assert_eq!(cache.key(&key.kid).await.err(), Some(KeyError::Unavailable));
    assert_eq!(source.fetches(), 1);
}

#[tokio::test]
async fn refresh_fetches_whatever_the_age_of_the_keys() {
    let key = TestKey::shared();
    let source = FakeSource::with_keys(&[key]);
    let cache = cache(&source, &TestClock::new());

    cache.refresh().await;
    cache.refresh().await;

    assert_eq!(source.fetches(), 2);
    assert!(cache.key(&key.kid).await.is_ok());
    assert_eq!(source.fetches(), 2);
}
