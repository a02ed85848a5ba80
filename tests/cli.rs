//! The `pdf-seal` binary, run as a user or a test harness runs it.

mod common;

use std::fs;
use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

use common::minimal_pdf;

/// The binary with an empty environment but for a private HOME, so that nothing of the
/// developer's own settings leaks in and nothing is written outside `home`.
fn pdf_seal(home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pdf-seal"));
    command
        .env_clear()
        .env("HOME", home)
        .env("PDF_SEAL_LOG_FORMAT", "text");
    command
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn serve_refuses_a_non_loopback_bind_with_exit_code_2() {
    let home = tempfile::tempdir().unwrap();

    let output = pdf_seal(home.path())
        .args(["serve", "--bind", "0.0.0.0:0"])
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("--bind") && stderr.contains("loopback"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn serve_refuses_a_bad_setting_naming_the_variable() {
    let home = tempfile::tempdir().unwrap();

    let bad_settings = [
        ("PDF_SEAL_MAX_BODY_BYTES", "fifty megabytes"),
        ("PDF_SEAL_BODY_IDLE_TIMEOUT_SECS", "0"),
        ("PDF_SEAL_BODY_TIMEOUT_SECS", "2 minutes"),
        ("PDF_SEAL_MAX_CONCURRENT_SEALS", "0"),
    ];

    for (variable, value) in bad_settings {
        let output = pdf_seal(home.path())
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env(variable, value)
            .output()
            .unwrap();

        assert_eq!(output.status.code(), Some(2), "{variable}");
        assert!(stderr_of(&output).contains(variable), "{variable}");
    }
}

#[test]
fn seal_without_an_output_is_a_usage_error() {
    let home = tempfile::tempdir().unwrap();

    let output = pdf_seal(home.path())
        .args(["seal", "in.pdf"])
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(2));
    assert!(stderr_of(&output).contains("--output"));
}

/// The one `pdf-seal: error:` line of a failed command, checked to say its cause once.
fn error_line(output: &Output) -> String {
    let stderr = stderr_of(output);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("pdf-seal: error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].matches("os error").count() <= 1, "{stderr}");
    errors[0].to_owned()
}

#[test]
fn seal_of_a_missing_input_is_refused_with_exit_code_2_and_writes_nothing() {
    let home = tempfile::tempdir().unwrap();
    let output_path = home.path().join("out.pdf");

    let output = pdf_seal(home.path())
        .args(["seal", "missing.pdf", "-o"])
        .arg(&output_path)
        .current_dir(home.path())
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(2));
    let error = error_line(&output);
    assert!(error.contains("cannot read missing.pdf: "), "{error}");
    assert!(!output_path.exists());
}

#[test]
fn seal_of_a_directory_is_refused_with_exit_code_2_saying_why_once() {
    let home = tempfile::tempdir().unwrap();

    let output = pdf_seal(home.path())
        .args(["seal", ".", "-o", "out.pdf"])
        .current_dir(home.path())
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        error_line(&output),
        "pdf-seal: error: cannot read .: it is a directory"
    );
}

#[test]
fn seal_to_an_unusable_destination_is_refused_with_exit_code_2_before_signing() {
    let home = tempfile::tempdir().unwrap();
    let input = home.path().join("in.pdf");
    fs::write(&input, minimal_pdf()).unwrap();
    fs::create_dir(home.path().join("dir")).unwrap();
    let cases = [
        ("missing/out.pdf", "the directory missing does not exist"),
        ("dir", "it is a directory"),
        ("in.pdf/out.pdf", "in.pdf is not a directory"),
    ];

    for (destination, cause) in cases {
        let output = pdf_seal(home.path())
            .env("PDF_SEAL_STATE_DIR", home.path().join("state"))
            .arg("seal")
            .arg(&input)
            .args(["-o", destination])
            .current_dir(home.path())
            .output()
            .unwrap();

        assert_eq!(output.status.code(), Some(2), "{destination}");
        let error = error_line(&output);
        assert!(
            error.ends_with(&format!("cannot write {destination}: {cause}")),
            "{error}"
        );
        assert!(
            !home.path().join("state").exists(),
            "the signer was loaded for {destination}"
        );
    }
}

#[test]
fn seal_help_lists_the_exit_codes() {
    let home = tempfile::tempdir().unwrap();

    let output = pdf_seal(home.path())
        .args(["seal", "--help"])
        .output()
        .unwrap();

    let help = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success());
    let codes = &help[help.find("Exit codes:").expect("an exit code section")..];
    for code in ["  0 ", "  1 ", "  2 "] {
        assert!(codes.contains(code), "{help}");
    }
}

#[test]
fn dev_cert_writes_the_three_files() {
    let home = tempfile::tempdir().unwrap();
    let out = home.path().join("certs");

    let output = pdf_seal(home.path())
        .args(["dev-cert", "--out"])
        .arg(&out)
        .output()
        .unwrap();

    assert!(output.status.success(), "{}", stderr_of(&output));
    let chain = fs::read_to_string(out.join("seal-chain.pem")).unwrap();
    let root = fs::read_to_string(out.join("root-ca.pem")).unwrap();
    assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2);
    assert!(
        chain.trim_end().ends_with(root.trim_end()),
        "the chain must end with the root"
    );
    assert!(
        fs::read_to_string(out.join("seal-key.pem"))
            .unwrap()
            .contains("PRIVATE KEY")
    );
    let mode = fs::metadata(out.join("seal-key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("development only"), "{stdout}");
}

/// Seals `input` into `home/output` with no key configured and the state in `home/state`.
fn seal_with_dev_credentials(home: &Path, input: &Path, output: &str) -> Output {
    pdf_seal(home)
        .env("PDF_SEAL_STATE_DIR", home.join("state"))
        .arg("seal")
        .arg(input)
        .arg("-o")
        .arg(home.join(output))
        .output()
        .unwrap()
}

fn read_dir_contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn development_credentials_are_made_once_and_reused() {
    let home = tempfile::tempdir().unwrap();
    let input = home.path().join("in.pdf");
    fs::write(&input, minimal_pdf()).unwrap();
    let dev_dir = home.path().join("state/dev-cert");

    let first = seal_with_dev_credentials(home.path(), &input, "first.pdf");
    let after_first = read_dir_contents(&dev_dir);
    let second = seal_with_dev_credentials(home.path(), &input, "second.pdf");

    assert!(
        first.status.success() && second.status.success(),
        "{}",
        stderr_of(&first)
    );
    let names: Vec<_> = after_first.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["root-ca.pem", "seal-chain.pem", "seal-key.pem"]);
    assert_eq!(read_dir_contents(&dev_dir), after_first);
    for output in [&first, &second] {
        let stderr = stderr_of(output);
        assert!(
            stderr.contains("WARN") && stderr.contains("development only"),
            "{stderr}"
        );
    }
}

#[test]
fn seal_writes_the_input_followed_by_the_seal_and_a_summary() {
    let home = tempfile::tempdir().unwrap();
    let input = home.path().join("in.pdf");
    let original = minimal_pdf();
    fs::write(&input, &original).unwrap();

    let output = pdf_seal(home.path())
        .arg("seal")
        .arg(&input)
        .args([
            "-o",
            "out.pdf",
            "--reason",
            "approved",
            "--field-name",
            "Approval",
        ])
        .args(["--digest", "sha384"])
        .current_dir(home.path())
        .output()
        .unwrap();

    assert!(output.status.success(), "{}", stderr_of(&output));
    let sealed = fs::read(home.path().join("out.pdf")).unwrap();
    assert_eq!(&sealed[..original.len()], &original[..]);
    assert!(sealed.len() > original.len());
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("Approval") && stderr.contains(&sealed.len().to_string()),
        "{stderr}"
    );
}

#[test]
fn control_characters_in_the_field_name_are_escaped_in_the_summary() {
    let home = tempfile::tempdir().unwrap();
    let input = home.path().join("in.pdf");
    fs::write(&input, minimal_pdf()).unwrap();

    let output = pdf_seal(home.path())
        .env("PDF_SEAL_STATE_DIR", home.path().join("state"))
        .arg("seal")
        .arg(&input)
        .args([
            "-o",
            "out.pdf",
            "--field-name",
            "Seal\nforged line\u{1b}[31m",
        ])
        .current_dir(home.path())
        .output()
        .unwrap();

    let stderr = stderr_of(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(r#"(field "Seal\nforged line\u{1b}[31m", "#),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
    assert!(!stderr.lines().any(|line| line.starts_with("forged line")));
}

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Runs `pdf-seal seal ARGS` in `home` under `sh` with `umask`, and checks that it succeeded.
fn seal_with_umask(home: &Path, umask: &str, args: &str) {
    let script = format!("umask {umask} && exec \"$0\" seal {args}",);
    let output = Command::new("sh")
        .args(["-c", &script, env!("CARGO_BIN_EXE_pdf-seal")])
        .env_clear()
        .env("HOME", home)
        .env("PDF_SEAL_STATE_DIR", home.join("state"))
        .env("PDF_SEAL_LOG_FORMAT", "text")
        .current_dir(home)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
}

#[test]
fn sealing_a_file_in_place_keeps_its_mode() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("f.pdf");
    fs::write(&path, minimal_pdf()).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();

    seal_with_umask(home.path(), "022", "f.pdf -o f.pdf");

    assert_eq!(mode_of(&path), 0o600);
    assert!(fs::read(&path).unwrap().len() > minimal_pdf().len());
}

#[test]
fn sealing_over_an_existing_file_keeps_its_mode() {
    let home = tempfile::tempdir().unwrap();
    fs::write(home.path().join("in.pdf"), minimal_pdf()).unwrap();
    let output = home.path().join("out.pdf");
    fs::write(&output, "old").unwrap();
    fs::set_permissions(&output, fs::Permissions::from_mode(0o640)).unwrap();

    seal_with_umask(home.path(), "022", "in.pdf -o out.pdf");

    assert_eq!(mode_of(&output), 0o640);
}

#[test]
fn a_new_output_gets_the_mode_the_umask_gives_new_files() {
    let home = tempfile::tempdir().unwrap();
    fs::write(home.path().join("in.pdf"), minimal_pdf()).unwrap();

    seal_with_umask(home.path(), "027", "in.pdf -o new.pdf");
    seal_with_umask(home.path(), "002", "in.pdf -o shared.pdf");

    assert_eq!(mode_of(&home.path().join("new.pdf")), 0o640);
    assert_eq!(mode_of(&home.path().join("shared.pdf")), 0o664);
}

#[test]
fn sealing_through_a_symbolic_link_replaces_its_target_and_keeps_the_link() {
    let home = tempfile::tempdir().unwrap();
    fs::write(home.path().join("in.pdf"), minimal_pdf()).unwrap();
    fs::create_dir(home.path().join("archive")).unwrap();
    let target = home.path().join("archive/signed.pdf");
    fs::write(&target, "old").unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o640)).unwrap();
    let link = home.path().join("latest.pdf");
    std::os::unix::fs::symlink("archive/signed.pdf", &link).unwrap();

    seal_with_umask(home.path(), "022", "in.pdf -o latest.pdf");

    let link_meta = fs::symlink_metadata(&link).unwrap();
    assert!(link_meta.file_type().is_symlink());
    assert_eq!(
        fs::read_link(&link).unwrap(),
        Path::new("archive/signed.pdf")
    );
    let sealed = fs::read(&target).unwrap();
    assert!(sealed.starts_with(&minimal_pdf()) && sealed.len() > minimal_pdf().len());
    assert_eq!(mode_of(&target), 0o640);
}

#[test]
fn seal_reads_standard_input_and_writes_standard_output() {
    let home = tempfile::tempdir().unwrap();
    let original = minimal_pdf();

    let mut child = pdf_seal(home.path())
        .args(["seal", "-", "-o", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&original).unwrap();
    let output = child.wait_with_output().unwrap();

    assert!(output.status.success(), "{}", stderr_of(&output));
    assert_eq!(&output.stdout[..original.len()], &original[..]);
    assert!(output.stdout.len() > original.len());
}

#[test]
fn seal_refuses_a_file_that_is_not_a_pdf_with_exit_code_2_and_no_output() {
    let home = tempfile::tempdir().unwrap();
    let input = home.path().join("notes.pdf");
    fs::write(&input, "just some text").unwrap();
    let output_path = home.path().join("out.pdf");

    let output = pdf_seal(home.path())
        .arg("seal")
        .arg(&input)
        .arg("-o")
        .arg(&output_path)
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert!(stderr_of(&output).to_lowercase().contains("not a pdf"));
    assert_eq!(
        fs::read_dir(home.path()).unwrap().count(),
        2,
        "only the input and the state"
    );
}

/// Waits for the temporary output of a seal to appear in `dir`, and returns its path.
fn wait_for_partial_output(dir: &Path) -> std::path::PathBuf {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let partial = fs::read_dir(dir).unwrap().find_map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name.starts_with(".pdf-seal-") && name.ends_with(".partial")).then_some(path)
        });
        if let Some(partial) = partial {
            return partial;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("no temporary output appeared in {}", dir.display())
}

#[test]
fn a_signal_during_a_seal_removes_the_temporary_output_and_exits_as_shells_expect() {
    for (signal, name, code) in [(Signal::TERM, "SIGTERM", 143), (Signal::INT, "SIGINT", 130)] {
        let home = tempfile::tempdir().unwrap();
        let mut seal = Running(
            pdf_seal(home.path())
                .env("PDF_SEAL_STATE_DIR", home.path().join("state"))
                .args(["seal", "-", "-o", "out.pdf"])
                .current_dir(home.path())
                .stdin(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        // Half a document, and standard input kept open: the seal waits for the rest.
        let mut stdin = seal.0.stdin.take().unwrap();
        stdin.write_all(&minimal_pdf()[..20]).unwrap();

        let partial = wait_for_partial_output(home.path());
        let partial_mode = mode_of(&partial);
        let pid = Pid::from_raw(seal.0.id().try_into().unwrap()).unwrap();
        rustix::process::kill_process(pid, signal).unwrap();
        let status = seal.0.wait().unwrap();

        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut seal.0.stderr.take().unwrap(), &mut stderr).unwrap();
        assert_eq!(status.code(), Some(code), "{name}: {stderr}");
        assert!(stderr.contains(&format!("stopped by {name}")), "{stderr}");
        assert_eq!(partial_mode, 0o600, "the temporary output is private");
        assert!(!partial.exists(), "{name} left {}", partial.display());
        assert!(!home.path().join("out.pdf").exists());
        drop(stdin);
    }
}

/// Kills the process when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serve_announces_its_address_and_answers_health() {
    let home = tempfile::tempdir().unwrap();
    let mut server = Running(
        pdf_seal(home.path())
            .args(["serve", "--bind", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    let mut line = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base_url = line
        .trim_end()
        .strip_prefix("pdf-seal listening on ")
        .unwrap()
        .to_owned();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let health = client
        .get(format!("{base_url}/api/health"))
        .send()
        .await
        .unwrap();

    assert!(
        base_url.starts_with("http://127.0.0.1:") && !base_url.ends_with(":0"),
        "{line}"
    );
    assert_eq!(health.status(), 200);
}
