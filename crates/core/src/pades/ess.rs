//! The Enhanced Security Services structures of the signing-certificate-v2 attribute.
//!
//! None of the crates of our ASN.1 stack (der 0.8, x509-cert 0.3, cms 0.3) defines them, so they
//! are declared here from RFC 5035 section 3 (which updates RFC 2634 section 5.4).

use der::Sequence;
use der::asn1::OctetString;
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::name::GeneralNames;
use x509_cert::serial_number::SerialNumber;

use crate::signer::DigestAlgorithm;

/// The value of the signing-certificate-v2 attribute (RFC 5035 section 3).
///
/// ```text
/// SigningCertificateV2 ::= SEQUENCE {
///     certs        SEQUENCE OF ESSCertIDv2,
///     policies     SEQUENCE OF PolicyInformation OPTIONAL }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SigningCertificateV2 {
    /// The signer certificate first; PAdES puts only that one.
    pub certs: Vec<EssCertIdV2>,
    /// Never written by pdf-seal; kept so that other signers' attributes decode.
    #[asn1(optional = "true")]
    pub policies: Option<Vec<PolicyInformation>>,
}

/// One certificate reference (RFC 5035 section 3).
///
/// ```text
/// ESSCertIDv2 ::= SEQUENCE {
///     hashAlgorithm  AlgorithmIdentifier DEFAULT {algorithm id-sha256},
///     certHash       Hash,
///     issuerSerial   IssuerSerial OPTIONAL }
/// Hash ::= OCTET STRING
/// ```
///
/// DER leaves out a value equal to its DEFAULT (X.690 section 11.5). der 0.8's derive only
/// handles DEFAULT for `Copy` fields, so `hash_algorithm` is declared OPTIONAL here and
/// [`EssCertIdV2::new`] leaves it out for SHA-256; [`EssCertIdV2::hash_algorithm`] reads the
/// default back.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EssCertIdV2 {
    #[asn1(optional = "true")]
    pub hash_algorithm: Option<AlgorithmIdentifierOwned>,
    pub cert_hash: OctetString,
    #[asn1(optional = "true")]
    pub issuer_serial: Option<IssuerSerial>,
}

/// The issuer and serial number of a certificate (RFC 5035 section 4).
///
/// ```text
/// IssuerSerial ::= SEQUENCE {
///     issuer         GeneralNames,
///     serialNumber   CertificateSerialNumber }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct IssuerSerial {
    pub issuer: GeneralNames,
    pub serial_number: SerialNumber,
}

/// The algorithm identifier of a digest, with absent parameters as RFC 5754 section 2 asks
/// ("implementations MUST generate SHA2 AlgorithmIdentifiers with absent parameters").
pub fn digest_algorithm_identifier(algorithm: DigestAlgorithm) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: algorithm.oid(),
        parameters: None,
    }
}

impl EssCertIdV2 {
    /// A reference to a certificate whose DER hashes to `cert_hash` with `algorithm`.
    pub fn new(
        algorithm: DigestAlgorithm,
        cert_hash: OctetString,
        issuer_serial: Option<IssuerSerial>,
    ) -> Self {
        let hash_algorithm = match algorithm {
            DigestAlgorithm::Sha256 => None,
            other => Some(digest_algorithm_identifier(other)),
        };
        Self {
            hash_algorithm,
            cert_hash,
            issuer_serial,
        }
    }

    /// The hash algorithm, SHA-256 when the field is absent.
    pub fn hash_algorithm(&self) -> AlgorithmIdentifierOwned {
        self.hash_algorithm
            .clone()
            .unwrap_or_else(|| digest_algorithm_identifier(DigestAlgorithm::Sha256))
    }
}
