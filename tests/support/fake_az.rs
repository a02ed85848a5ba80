//! A fake Azure CLI for the tests of the `azure-cli` credential: `DIR/bin/az`, a shell script
//! that appends its arguments to `DIR/az-args` and prints an access token, the answer the
//! credential reads from `az account get-access-token`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Writes `dir/bin/az`: it prints the token of the first `(scope, token)` pair whose scope is
/// in its arguments, else `fallback`; each token expires in an hour. Put `dir/bin` first on
/// the child's `PATH`.
pub fn write(dir: &Path, tokens: &[(&str, &str)], fallback: &str) {
    let expires = time::OffsetDateTime::now_utc().unix_timestamp() + 3600;
    let answer = |token: &str| {
        format!(r#"{{"accessToken":"{token}","expires_on":{expires},"tokenType":"Bearer"}}"#)
    };
    let mut script = format!(
        "#!/bin/sh\necho \"$*\" >> '{}'\ncase \"$*\" in\n",
        dir.join("az-args").display()
    );
    for (scope, token) in tokens {
        script += &format!("*'{scope}'*) cat <<'EOF'\n{}\nEOF\n;;\n", answer(token));
    }
    script += &format!("*) cat <<'EOF'\n{}\nEOF\n;;\nesac\n", answer(fallback));

    let bin = dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let az = bin.join("az");
    fs::write(&az, script).unwrap();
    fs::set_permissions(&az, fs::Permissions::from_mode(0o755)).unwrap();
}
