//! Development certificates: a throw-away root CA and a seal certificate it issued.
//!
//! Both keys are ECDSA P-256. The names say plainly that the certificates are for development
//! only; no validator trusts them unless it is told to trust the root.

use std::time::{Duration, SystemTime};

use der::asn1::{Any, ObjectIdentifier, Utf8StringRef};
use der::pem::LineEnding;
use der::{Decode, Encode, EncodePem};
use p256::ecdsa::{DerSignature, SigningKey};
use p256::elliptic_curve::Generate;
use pkcs8::EncodePrivateKey;
use spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::Certificate;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use super::SignerError;

/// The common name of the development root CA.
pub const ROOT_COMMON_NAME: &str = "pdf-seal development root CA (not for production)";
/// The common name of the development seal certificate.
pub const SEAL_COMMON_NAME: &str = "pdf-seal development seal (not for production)";

/// X.520 `commonName` (RFC 4519 section 2.3).
const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
/// X.520 `organizationName` (RFC 4519 section 2.19).
const ORGANIZATION_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
/// `ub-organization-name` (RFC 5280 appendix A.1).
const MAX_ORGANISATION_LEN: usize = 64;

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

/// A development root CA and a seal certificate, as PEM text.
pub struct DevCredentials {
    /// The root CA certificate, to trust when validating development seals.
    pub root_certificate_pem: String,
    /// The seal certificate followed by the root CA certificate.
    pub chain_pem: String,
    /// The seal key as unencrypted PKCS#8 PEM.
    pub key_pem: String,
}

/// Makes a new development root CA and a seal certificate issued by it.
///
/// The root is valid for ten years, the seal certificate for three; both start one hour ago
/// so that a clock slightly behind still accepts them. Serial numbers are 16 random bytes.
pub fn generate(organisation: &str) -> Result<DevCredentials, SignerError> {
    check_organisation(organisation)?;
    let root_key = new_key()?;
    let seal_key = new_key()?;
    let root_name = name(ROOT_COMMON_NAME, organisation)?;
    let seal_name = name(SEAL_COMMON_NAME, organisation)?;
    let now = SystemTime::now();

    let root = issue(
        Profile::root(root_name.clone()),
        validity(now, 3653 * DAY)?,
        public_key(&root_key)?,
        &root_key,
    )?;
    let seal = issue(
        Profile::seal(seal_name, root_name),
        validity(now, 1096 * DAY)?,
        public_key(&seal_key)?,
        &root_key,
    )?;

    let root_certificate_pem = to_pem(&root)?;
    let key_pem = seal_key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| failed("cannot encode the development key", &e))?;
    Ok(DevCredentials {
        chain_pem: format!("{}{root_certificate_pem}", to_pem(&seal)?),
        root_certificate_pem,
        key_pem: key_pem.to_string(),
    })
}

/// The extensions of a development certificate (RFC 5280 section 4.2.1).
struct Profile {
    subject: Name,
    /// `None` for the self-signed root.
    issuer: Option<Name>,
}

impl Profile {
    fn root(subject: Name) -> Self {
        Self {
            subject,
            issuer: None,
        }
    }

    fn seal(subject: Name, issuer: Name) -> Self {
        Self {
            subject,
            issuer: Some(issuer),
        }
    }
}

impl BuilderProfile for Profile {
    fn get_issuer(&self, subject: &Name) -> Name {
        self.issuer.clone().unwrap_or_else(|| subject.clone())
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    /// Root: basicConstraints CA (critical), keyUsage keyCertSign and cRLSign (critical).
    /// Seal: basicConstraints not CA, keyUsage digitalSignature and nonRepudiation (critical),
    /// no extended key usage. Both: subject and authority key identifiers (SHA-1 of the key,
    /// RFC 5280 section 4.2.1.2 method 1).
    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        issuer_spk: SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let ca = self.issuer.is_none();
        let usages = if ca {
            KeyUsages::KeyCertSign | KeyUsages::CRLSign
        } else {
            KeyUsages::DigitalSignature | KeyUsages::NonRepudiation
        };
        let basic = BasicConstraints {
            ca,
            path_len_constraint: None,
        };
        let subject_key_id = SubjectKeyIdentifier::try_from(spk)?;
        let authority_key_id = AuthorityKeyIdentifier::try_from(issuer_spk)?;

        // The criticality is given explicitly, so the extensions built before do not matter.
        let (subject, before) = (tbs.subject(), &[]);
        Ok(vec![
            (true, &basic).to_extension(subject, before)?,
            (true, &KeyUsage(usages)).to_extension(subject, before)?,
            (false, &subject_key_id).to_extension(subject, before)?,
            (false, &authority_key_id).to_extension(subject, before)?,
        ])
    }
}

fn check_organisation(organisation: &str) -> Result<(), SignerError> {
    let length = organisation.chars().count();
    if organisation.trim().is_empty() || length > MAX_ORGANISATION_LEN {
        return Err(SignerError::Unsupported(format!(
            "the organisation name must have 1 to {MAX_ORGANISATION_LEN} characters, not \
             {length}"
        )));
    }
    Ok(())
}

fn new_key() -> Result<SigningKey, SignerError> {
    SigningKey::try_generate().map_err(|e| failed("cannot make a key", &e))
}

fn public_key(key: &SigningKey) -> Result<SubjectPublicKeyInfoOwned, SignerError> {
    SubjectPublicKeyInfoOwned::from_key(key.verifying_key())
        .map_err(|e| failed("cannot encode a public key", &e))
}

/// `O=organisation, CN=common_name`, both as UTF8String (RFC 5280 section 4.1.2.6).
fn name(common_name: &str, organisation: &str) -> Result<Name, SignerError> {
    let encode = |e: der::Error| failed("cannot encode a name", &e);
    let mut rdns = RdnSequence::default();
    for (oid, text) in [
        (ORGANIZATION_NAME, organisation),
        (COMMON_NAME, common_name),
    ] {
        let value = Any::encode_from(&Utf8StringRef::new(text).map_err(encode)?).map_err(encode)?;
        let rdn = RelativeDistinguishedName::try_from(vec![AttributeTypeAndValue { oid, value }]);
        rdns.push(rdn.map_err(encode)?);
    }
    Name::from_der(&rdns.to_der().map_err(encode)?).map_err(encode)
}

/// From one hour before `now` to `lifetime` after `now`.
fn validity(now: SystemTime, lifetime: Duration) -> Result<Validity, SignerError> {
    let time =
        |t: SystemTime| Time::try_from(t).map_err(|e| failed("cannot encode a validity date", &e));
    Ok(Validity::new(time(now - HOUR)?, time(now + lifetime)?))
}

/// A positive serial number of exactly 16 random bytes (RFC 5280 section 4.1.2.2).
fn serial_number() -> Result<SerialNumber, SignerError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| failed("no randomness for a serial number", &e))?;
    bytes[0] = (bytes[0] & 0x7f).max(1);
    SerialNumber::new(&bytes).map_err(|e| failed("cannot encode a serial number", &e))
}

fn issue(
    profile: Profile,
    validity: Validity,
    subject_key: SubjectPublicKeyInfoOwned,
    issuer_key: &SigningKey,
) -> Result<Certificate, SignerError> {
    let build = |e: x509_cert::builder::Error| failed("cannot build a certificate", &e);
    let builder =
        CertificateBuilder::new(profile, serial_number()?, validity, subject_key).map_err(build)?;
    builder.build::<_, DerSignature>(issuer_key).map_err(build)
}

fn to_pem(certificate: &Certificate) -> Result<String, SignerError> {
    certificate
        .to_pem(LineEnding::LF)
        .map_err(|e| failed("cannot encode a certificate", &e))
}

fn failed(what: &str, error: &dyn std::fmt::Display) -> SignerError {
    SignerError::Failed(format!("development certificates: {what}: {error}"))
}

#[cfg(test)]
mod tests;
