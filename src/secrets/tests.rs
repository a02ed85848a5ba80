//! The cache of Key Vault secrets with a fake vault and a fake clock.

use std::sync::atomic::{AtomicUsize, Ordering};

use time::macros::datetime;

use super::*;

/// A vault whose answer the test sets, counting reads.
struct FakeVault {
    answer: Mutex<Result<(String, Option<OffsetDateTime>), String>>,
    reads: AtomicUsize,
    version: AtomicUsize,
}

impl FakeVault {
    fn holding(value: &str, expires: Option<OffsetDateTime>) -> Arc<Self> {
        Arc::new(Self {
            answer: Mutex::new(Ok((value.to_string(), expires))),
            reads: AtomicUsize::new(0),
            version: AtomicUsize::new(0),
        })
    }

    fn set(&self, answer: Result<(&str, Option<OffsetDateTime>), &str>) {
        self.version.fetch_add(1, Ordering::SeqCst);
        *self.answer.lock().unwrap() = answer
            .map(|(v, e)| (v.to_string(), e))
            .map_err(str::to_string);
    }
}

#[async_trait]
impl SecretSource for FakeVault {
    async fn fetch(&self, _name: &str, _version: Option<&str>) -> Result<Fetched, String> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        let answer = self.answer.lock().unwrap().clone();
        answer.map(|(value, expires)| Fetched {
            value: Secret::new(value),
            version: Some(format!("v{}", self.version.load(Ordering::SeqCst))),
            expires,
        })
    }
}

/// A clock the test moves.
#[derive(Clone)]
struct FakeClock(Arc<Mutex<OffsetDateTime>>);

impl FakeClock {
    fn new() -> Self {
        Self(Arc::new(Mutex::new(datetime!(2026-06-01 12:00 UTC))))
    }

    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }

    fn clock(&self) -> Clock {
        let now = self.0.clone();
        Arc::new(move || *now.lock().unwrap())
    }
}

fn secrets(vault: &Arc<FakeVault>, clock: &FakeClock) -> Secrets {
    let vault = vault.clone();
    let make: SourceMaker = Arc::new(move |_| Ok(vault.clone() as Arc<dyn SecretSource>));
    Secrets::with_source(
        "https://seal.vault.azure.net/".parse().unwrap(),
        make,
        clock.clock(),
        Duration::from_secs(300),
    )
}

fn reference(name: &str) -> SecretSetting {
    SecretSetting::KeyVault(SecretReference {
        vault: None,
        name: name.to_string(),
        version: None,
    })
}

#[tokio::test]
async fn a_scheduled_refresh_picks_up_a_rotated_value() {
    let (vault, clock) = (FakeVault::holding("old", None), FakeClock::new());
    let secrets = secrets(&vault, &clock);
    let cell = secrets
        .cell(&reference("api-key"), "SEAL_API_KEY")
        .await
        .unwrap();
    assert_eq!(cell.current().expose(), "old");

    vault.set(Ok(("new", None)));
    secrets.refresh_all().await;

    assert_eq!(cell.current().expose(), "new");
    assert_eq!(secrets.health()[0].version.as_deref(), Some("v1"));
}

#[tokio::test]
async fn an_outage_keeps_the_last_good_value_and_reports_since_when() {
    let (vault, clock) = (FakeVault::holding("good", None), FakeClock::new());
    let secrets = secrets(&vault, &clock);
    let cell = secrets
        .cell(&reference("api-key"), "SEAL_API_KEY")
        .await
        .unwrap();
    vault.set(Err("the vault answered 503"));

    clock.advance(Duration::from_secs(300));
    secrets.refresh_all().await;
    let first_failure = secrets.health().remove(0);
    clock.advance(Duration::from_secs(300));
    secrets.refresh_all().await;
    let still_failing = secrets.health().remove(0);

    assert_eq!(cell.current().expose(), "good");
    assert_eq!(first_failure.status, "failing");
    assert_eq!(
        first_failure.error.as_deref(),
        Some("the vault answered 503")
    );
    assert_eq!(
        still_failing.failing_since.as_deref(),
        Some("2026-06-01T12:05:00Z"),
        "the first failure's time is kept"
    );

    vault.set(Ok(("good", None)));
    secrets.refresh_all().await;
    let recovered = secrets.health().remove(0);
    assert_eq!((recovered.status, recovered.failing_since), ("ok", None));
}

#[tokio::test]
async fn the_status_never_holds_the_value() {
    let (vault, clock) = (FakeVault::holding("hunter2-secret", None), FakeClock::new());
    let secrets = secrets(&vault, &clock);
    let cell = secrets
        .cell(&reference("api-key"), "SEAL_API_KEY")
        .await
        .unwrap();

    let shown = format!(
        "{} {cell:?}",
        serde_json::to_string(&secrets.health()).unwrap()
    );

    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(
        shown.contains("SEAL_API_KEY") && shown.contains("api-key"),
        "{shown}"
    );
}

#[tokio::test]
async fn expiry_is_noted_thirty_days_ahead_and_after() {
    let clock = FakeClock::new();
    let in_40_days = datetime!(2026-07-11 12:00 UTC);
    let vault = FakeVault::holding("v", Some(in_40_days));
    let secrets = secrets(&vault, &clock);
    secrets
        .cell(&reference("api-key"), "SEAL_API_KEY")
        .await
        .unwrap();

    let far = secrets.health()[0].expiry;
    clock.advance(Duration::from_secs(11 * 24 * 3600));
    let soon = secrets.health()[0].expiry;
    clock.advance(Duration::from_secs(30 * 24 * 3600));
    let expired = secrets.health()[0].expiry;

    assert_eq!(
        (far, soon, expired),
        (None, Some("expires-soon"), Some("expired"))
    );
    assert_eq!(
        secrets.health()[0].expires.as_deref(),
        Some("2026-07-11T12:00:00Z")
    );
}

#[tokio::test]
async fn rejections_read_again_at_most_once_per_interval_and_say_if_the_value_changed() {
    let (vault, clock) = (FakeVault::holding("old", None), FakeClock::new());
    let secrets = secrets(&vault, &clock);
    let cell = secrets
        .cell(&reference("api-key"), "SEAL_API_KEY")
        .await
        .unwrap();
    assert_eq!(vault.reads.load(Ordering::SeqCst), 1);

    // A rejection right after the first read still reads: the value may have been rotated
    // since. A second rejection at once does not.
    assert!(!cell.refresh_after_rejection().await, "the same value");
    assert!(!cell.refresh_after_rejection().await);
    assert_eq!(vault.reads.load(Ordering::SeqCst), 2);

    clock.advance(REJECTION_INTERVAL);
    vault.set(Ok(("new", None)));
    assert!(cell.refresh_after_rejection().await);
    assert_eq!(cell.current().expose(), "new");

    clock.advance(REJECTION_INTERVAL);
    assert!(
        !cell.refresh_after_rejection().await,
        "the same value again"
    );
    assert_eq!(vault.reads.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn concurrent_rejections_make_one_read() {
    let (vault, clock) = (FakeVault::holding("old", None), FakeClock::new());
    let secrets = secrets(&vault, &clock);
    let cell = secrets
        .cell(&reference("api-key"), "SEAL_API_KEY")
        .await
        .unwrap();
    clock.advance(REJECTION_INTERVAL);
    vault.set(Ok(("new", None)));

    let (a, b, c) = tokio::join!(
        cell.refresh_after_rejection(),
        cell.refresh_after_rejection(),
        cell.refresh_after_rejection()
    );

    assert_eq!(vault.reads.load(Ordering::SeqCst), 2);
    assert!(a && b && c, "each caller learns that the value changed");
}

#[tokio::test]
async fn an_unreadable_secret_at_start_names_the_setting() {
    let (vault, clock) = (FakeVault::holding("x", None), FakeClock::new());
    vault.set(Err("the vault answered 404 SecretNotFound"));
    let secrets = secrets(&vault, &clock);

    let error = secrets
        .cell(&reference("missing"), "PDF_SEAL_PKCS12_PASSWORD")
        .await
        .unwrap_err();

    assert_eq!(error.variable, "PDF_SEAL_PKCS12_PASSWORD");
    assert!(error.reason.contains("SecretNotFound"), "{error}");
}

#[tokio::test]
async fn environment_only_refuses_key_vault_references_and_keeps_values() {
    let secrets = Secrets::environment_only();

    let value = secrets
        .cell(&SecretSetting::Value(Secret::new("pw")), "SEAL_API_KEY")
        .await
        .unwrap();
    let error = secrets
        .cell(&reference("a"), "SEAL_API_KEY")
        .await
        .unwrap_err();

    assert_eq!(value.current().expose(), "pw");
    assert!(!value.refresh_after_rejection().await);
    assert_eq!(error.variable, "SEAL_API_KEY");
}

#[tokio::test]
async fn a_rejection_just_after_a_rotation_was_read_retries_without_a_read() {
    let (vault, clock) = (FakeVault::holding("old", None), FakeClock::new());
    let secrets = secrets(&vault, &clock);
    let cell = secrets
        .cell(&reference("api-key"), "SEAL_API_KEY")
        .await
        .unwrap();
    clock.advance(Duration::from_secs(300));
    vault.set(Ok(("new", None)));
    secrets.refresh_all().await;

    clock.advance(Duration::from_secs(1));
    let retry = cell.refresh_after_rejection().await;

    assert!(retry, "the refused request may have used the old value");
    assert_eq!(vault.reads.load(Ordering::SeqCst), 2);
}
